// Text renderings of the views (views.ts) for the debug console: VMCS, EPT, page walks, exits, virtio.
import type {
  EptMappingsView, EptTableView, EptTranslateResult, EptTranslateView, ExitStatsView, ExitsView, PageWalkView, VirtioView, VmcsView,
} from '../emulator/debug/views.js';

export function vmcsText(v: VmcsView): string {
  const lines: string[] = [];
  if (v.guestRunning) lines.push('(the guest is running: guest-state fields hold the values of the last VM exit, SDM Vol. 3C §25.11.1)');
  for (const g of v.groups) {
    if (g.fields.length === 0) continue;
    lines.push(`${g.name}:`);
    for (const f of g.fields) {
      const on = (f.bits ?? []).filter((b) => b.set).map((b) => (b.value !== undefined ? `${b.name}=${b.value}` : b.name));
      lines.push(`  ${f.name.padEnd(36)} ${f.value}${on.length > 0 ? `  ${on.join(' ')}` : ''}${f.changed ? `  (was ${f.previous})` : ''}`);
    }
  }
  return lines.join('\n');
}

function eptResult(r: EptTranslateResult): string {
  if (r.kind === 'ok') {
    const size = r.pageSize >= 1 << 30 ? `${r.pageSize / 2 ** 30} GiB` : r.pageSize >= 1 << 20 ? `${r.pageSize >> 20} MiB` : `${r.pageSize >> 10} KiB`;
    return `→ host-physical ${r.hpa} (${size} page, ${r.r ? 'R' : '-'}${r.w ? 'W' : '-'}${r.x ? 'X' : '-'})`;
  }
  return `→ ${r.exitName} (exit ${r.exitReason}) at level ${r.level}: ${r.reason}`;
}

export function eptTranslateText(t: EptTranslateView): string {
  return [`EPT walk of guest-physical ${t.gpa} (${t.access}):`, ...t.steps.map((s) => `  ${s.levelName.padEnd(10)} at ${s.entryAddress} = ${s.value}`), `  ${eptResult(t.result)}`].join('\n');
}

export function eptMappingsText(m: EptMappingsView): string {
  const lines = ['EPT mappings (guest-physical → host-physical):'];
  for (const x of m.mappings) lines.push(`  ${x.gpaStart}-${x.gpaEnd} → ${x.hpaStart} ${x.r ? 'R' : '-'}${x.w ? 'W' : '-'}${x.x ? 'X' : '-'} ${x.memoryTypeName}`);
  for (const mc of m.misconfigured) lines.push(`  misconfigured: level ${mc.level} entry at ${mc.address} = ${mc.value} (GPA ${mc.gpaStart}): ${mc.reason}`);
  if (m.truncated) lines.push('  … (truncated)');
  return lines.join('\n');
}

/** One EPT paging structure: its present entries (a table of 512 is mostly empty). */
export function eptTableText(t: EptTableView): string {
  const name = t.level === null ? 'EPT table' : `EPT ${['PT', 'PD', 'PDPT', 'PML4'][t.level - 1] ?? `level ${t.level}`}`;
  const lines = [`${name} at ${t.table}${t.gpaBase !== null ? ` (guest-physical from ${t.gpaBase})` : ''}, EPTP ${t.eptp.value}:`];
  const present = t.entries.filter((e) => e.kind !== 'not-present');
  for (const e of present) {
    const rwx = `${e.r ? 'R' : '-'}${e.w ? 'W' : '-'}${e.x ? 'X' : '-'}`;
    const page = e.kind === 'page' ? ` ${e.memoryTypeName ?? ''} page${e.largePage ? ` ${e.size >= 1 << 30 ? '1 GiB' : '2 MiB'}` : ''}${e.dirty ? ' D' : ''}` : e.kind === 'misconfigured' ? ` misconfigured: ${e.misconfig ?? ''}` : ' table';
    lines.push(`  [${String(e.index).padStart(3)}] ${e.value} ${rwx}${e.accessed ? ' A' : ''}${page} → ${e.target}${e.gpaStart !== null ? `  GPA ${e.gpaStart}` : ''}`);
  }
  lines.push(`  ${present.length} of 512 entries present`);
  return lines.join('\n');
}

export function pageWalkText(w: PageWalkView): string {
  const lines = [`page walk of ${w.gva}: ${w.mode} paging (CR3=${w.cr3}, from the ${w.source === 'cpu' ? 'processor' : 'VMCS'})`];
  for (const l of w.levels) {
    const d = l.decoded;
    const flags = d === null ? '' : ` ${['P', 'RW', 'US', 'A', 'D', 'PS', 'G', 'NX'].filter((k) => (d as unknown as Record<string, boolean | null>)[k] === true).join(' ')} → ${d.address}`;
    lines.push(`  ${l.levelName.padEnd(6)} at GPA ${l.entryGpa}${l.entryHpa !== null ? ` (HPA ${l.entryHpa})` : ''} = ${l.value ?? '?'}${flags}${l.reserved ? ` reserved bits ${l.reserved}` : ''}`);
  }
  if (w.gpa !== null) lines.push(`  → guest-physical ${w.gpa}${w.hpa !== null ? ` → host-physical ${w.hpa}` : ''}`);
  if (w.stop !== null) lines.push(`  stopped at level ${w.stop.level}: ${w.stop.reason}: ${w.stop.detail}`);
  return lines.join('\n');
}

export function exitsText(v: ExitsView, stats: ExitStatsView): string {
  const lines = v.entries.map((e) => `#${e.n} ${e.name}${e.summary ? ` ${e.summary}` : ''} rip=${e.rip}${e.bytes ? ` [${e.bytes}]` : ''} ${e.outcome}${e.note ? ` (${e.note})` : ''}`);
  const p = v.pending ?? null;
  if (p !== null) lines.push(`#${p.n} ${p.name}${p.summary ? ` ${p.summary}` : ''} rip=${p.rip} (stopped here: not handled yet)`);
  lines.push('', `${'VM-EXIT'.padEnd(22)} ${'Samples'.padStart(10)} ${'Samples%'.padStart(9)}`);
  for (const r of stats.rows) lines.push(`${r.name.padEnd(22)} ${String(r.count).padStart(10)} ${(100 * r.share).toFixed(2).padStart(8)}%`);
  lines.push(`Total Samples: ${stats.total}`);
  return lines.join('\n');
}

export function virtioText(v: VirtioView): string {
  if (v.devices.length === 0) return 'no virtio devices in this run (add them to "devices")';
  const lines: string[] = [];
  for (const d of v.devices) {
    const status = d.status.bits.filter((b) => b.set).map((b) => b.name).join(' ') || '0';
    lines.push(`${d.name} (device ${d.deviceId}) at ${d.window.base}, IRQ ${d.irq}: status ${status}${d.needsResetReason ? `, NEEDS_RESET: ${d.needsResetReason}` : ''}`);
    for (const q of d.queues) lines.push(`  queue ${q.index}: size ${q.size}${q.ready ? '' : ' (not ready)'}, last avail ${q.lastAvailIdx}, used ${q.usedIdx}, ${q.inFlight.length} in flight`);
    for (const e of d.events.slice(-5)) lines.push(`  event: ${e.kind}${'reason' in e ? ` ${e.reason}` : ''}${'requests' in e ? ` requests ${e.requests.join(', ')}` : ''}`);
  }
  return lines.join('\n');
}
