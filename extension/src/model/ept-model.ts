// The EPT view's tree: the EPTP, the paging structures from the PML4 down (entries fetched on expand) and the coalesced GPA→HPA mappings.
import type { EptEntryView, EptMappingsView, EptTranslateView } from '../../../emulator/debug/views.js';
import { CUSTOM_REQUESTS, type EptArguments, type EptResponseBody } from '../../../debug-adapter/protocol.js';
import { errorText, md, note, type Requester, type ViewNode } from './node.js';

/** Entries listed per expand (a page table can have 512); a "more" row loads the next batch. */
export const EPT_BATCH = 64;

const LEVEL_NAMES: Record<number, string> = { 4: 'PML4E', 3: 'PDPTE', 2: 'PDE', 1: 'PTE' };
const TABLE_NAMES: Record<number, string> = { 4: 'PML4', 3: 'PDPT', 2: 'PD', 1: 'PT' };

export function sizeName(bytes: number): string {
  if (bytes >= 2 ** 30 && bytes % 2 ** 30 === 0) return `${bytes / 2 ** 30} GiB`;
  if (bytes >= 2 ** 20 && bytes % 2 ** 20 === 0) return `${bytes / 2 ** 20} MiB`;
  if (bytes >= 1024 && bytes % 1024 === 0) return `${bytes / 1024} KiB`;
  return `${bytes} B`;
}

const rwx = (r: boolean, w: boolean, x: boolean): string => `${r ? 'R' : '-'}${w ? 'W' : '-'}${x ? 'X' : '-'}`;

/** One EPT entry as a row (SDM vol. 3C §29.3.2 tables 29-1…29-6): permissions, memory type, A/D, page size, target. */
export function entryNode(id: string, e: EptEntryView, children?: () => Promise<ViewNode[]>): ViewNode {
  const lvl = e.level ?? 1;
  const ad = `${e.accessed ? 'A' : '-'}${e.dirty === null ? '' : e.dirty ? 'D' : '-'}`;
  const what = e.kind === 'page' ? `${sizeName(e.size)} page → ${e.target} ${e.memoryTypeName ?? ''}${e.ignorePat ? ' IPAT' : ''}`
    : e.kind === 'table' ? `→ ${TABLE_NAMES[lvl - 1] ?? 'table'} ${e.target}`
      : e.kind === 'misconfigured' ? `misconfigured: ${e.misconfig ?? ''}` : 'not present';
  const node: ViewNode = {
    id, label: `[${e.index}] ${LEVEL_NAMES[lvl] ?? 'entry'}`,
    description: `${rwx(e.r, e.w, e.x)} ${ad} ${what}${e.gpaStart !== null ? ` · GPA ${e.gpaStart}` : ''}`,
    tooltip: [
      `**EPT ${LEVEL_NAMES[lvl] ?? 'entry'} ${e.index}** at HPA ${e.address} = \`${e.value}\``,
      `read ${e.r}, write ${e.w}, execute ${e.x}, user execute ${e.userX}`,
      `accessed ${e.accessed}${e.dirty !== null ? `, dirty ${e.dirty}` : ''}${e.memoryTypeName !== null ? `, memory type ${e.memoryType} (${e.memoryTypeName})${e.ignorePat ? ', ignore PAT' : ''}` : ''}`,
      e.gpaStart !== null ? `maps GPA ${e.gpaStart}–${e.gpaEnd} (${sizeName(e.size)})` : '',
      e.misconfig !== undefined ? `EPT misconfiguration: ${md(e.misconfig)}` : '',
    ].filter((s) => s !== '').join('  \n'),
    icon: e.kind === 'page' ? 'file-binary' : e.kind === 'table' ? 'folder' : e.kind === 'misconfigured' ? 'error' : 'circle-slash',
    ...(e.kind === 'misconfigured' ? { iconColor: 'errorForeground' } : {}),
    contextValue: 'value', value: e.value,
  };
  if (children !== undefined && e.kind === 'table') node.load = children;
  return node;
}

/**
 * Walks the EPT lazily, one paging structure per expand: vmscope/ept { table, level } returns the 512 decoded
 * entries of the table at a host-physical address (cached for the stop). Present entries are listed in batches;
 * the not-present ones are counted in one row, so a table of 512 stays readable.
 */
export class EptExplorer {
  private readonly tables = new Map<string, Promise<EptEntryView[]>>();

  constructor(private readonly req: Requester, readonly mappings: EptMappingsView, private readonly batch = EPT_BATCH) {}

  private entriesOf(table: string, level: number): Promise<EptEntryView[]> {
    const key = `${level}:${table}`;
    let p = this.tables.get(key);
    if (p === undefined) {
      const args: EptArguments = { table, level };
      p = Promise.resolve(this.req.customRequest(CUSTOM_REQUESTS.ept, args)).then((b) => {
        const body = b as EptResponseBody;
        if (body.table === undefined) throw new Error('the adapter sent no EPT table');
        return body.table.entries;
      });
      this.tables.set(key, p);
      p.catch(() => this.tables.delete(key)); // a failed request is retried on the next expand
    }
    return p;
  }

  /** Rows of the table at host-physical `table` (level 4..1), from the `from`-th present entry on (a batch, then a "more" row). */
  async tableRows(level: number, table: string, from = 0): Promise<ViewNode[]> {
    let entries: EptEntryView[];
    try {
      entries = await this.entriesOf(table, level);
    } catch (e) {
      return [note(`ept/t${level}/${table}/error`, errorText(e), 'error')];
    }
    const shown = entries.filter((e) => e.kind !== 'not-present');
    const out = shown.slice(from, from + this.batch).map((e) =>
      entryNode(`ept/e${level}/${table}/${e.index}`, e, level > 1 ? () => this.tableRows(level - 1, e.target) : undefined));
    if (from + this.batch < shown.length) {
      const next = from + this.batch;
      out.push({ id: `ept/more${level}/${table}/${next}`, label: `${shown.length - next} more entries…`, icon: 'ellipsis', contextValue: 'more', load: () => this.tableRows(level, table, next) });
    }
    if (from === 0) {
      const absent = entries.length - shown.length;
      out.push(note(`ept/t${level}/${table}/absent`, shown.length === 0 ? `all ${absent} entries not present` : `${absent} entries not present (not listed)`));
    }
    return out;
  }
}

/** The view: EPTP, the PML4 (expands into the structures), the coalesced mappings and any misconfigured entries. */
export function buildEptTree(m: EptMappingsView, req: Requester): ViewNode[] {
  const p = m.eptp;
  const out: ViewNode[] = [{
    id: 'ept/eptp', label: 'EPTP', description: `${p.value}${p.enabled ? '' : ' (EPT not enabled: GPA = HPA)'}`, icon: 'key', contextValue: 'value', value: p.value,
    children: [
      { id: 'ept/eptp/mt', label: 'memory type', description: `${p.memoryType} (${p.memoryTypeName})` },
      { id: 'ept/eptp/len', label: 'page-walk length', description: `${p.pageWalkLength} levels` },
      { id: 'ept/eptp/ad', label: 'accessed/dirty flags', description: p.adEnabled ? 'enabled' : 'disabled' },
      { id: 'ept/eptp/pml4', label: 'PML4 address', description: p.pml4, contextValue: 'value', value: p.pml4 },
    ],
  }];
  if (!p.enabled) out.push(note('ept/disabled', '"Enable EPT" is off in the secondary controls: guest-physical = host-physical', 'info'));
  const explorer = new EptExplorer(req, m);
  out.push({ id: 'ept/pml4', label: `${TABLE_NAMES[p.pageWalkLength] ?? 'PML4'} at ${p.pml4}`, description: 'paging structures', icon: 'folder-opened', load: () => explorer.tableRows(p.pageWalkLength, p.pml4) });
  const total = m.mappings.reduce((a, x) => a + x.size, 0);
  out.push({
    id: 'ept/mappings', label: 'Mappings', description: `${m.mappings.length} range${m.mappings.length === 1 ? '' : 's'}, ${sizeName(total)}${m.truncated ? ' (truncated)' : ''}`, icon: 'arrow-swap', expanded: true,
    children: m.mappings.length === 0 ? [note('ept/mappings/none', 'nothing mapped')] : m.mappings.map((x) => ({
      id: `ept/map/${x.gpaStart}`, label: `${x.gpaStart}–${x.gpaEnd}`, description: `→ ${x.hpaStart} ${rwx(x.r, x.w, x.x)} ${x.memoryTypeName} ${sizeName(x.size)}`,
      tooltip: `GPA ${x.gpaStart}–${x.gpaEnd} → HPA ${x.hpaStart}  \n${sizeName(x.size)} in pages of ${x.pageSizes.map(sizeName).join(', ')}; ${rwx(x.r, x.w, x.x)}, memory type ${x.memoryType} (${x.memoryTypeName})`,
      icon: 'arrow-right', contextValue: 'value', value: x.hpaStart,
    })),
  });
  if (m.misconfigured.length > 0) {
    out.push({
      id: 'ept/misconfigured', label: 'Misconfigured entries', description: `${m.misconfigured.length}`, icon: 'error', iconColor: 'errorForeground',
      children: m.misconfigured.map((x) => ({ id: `ept/misc/${x.address}`, label: `${LEVEL_NAMES[x.level] ?? 'entry'} at ${x.address}`, description: `${x.value} · ${x.reason} · GPA ${x.gpaStart}`, contextValue: 'value', value: x.value })),
    });
  }
  return out;
}

/** A translation (vmscope/ept with gpa) as Markdown lines: each step, then the HPA or the exit it would cause. */
export function translateText(t: EptTranslateView): string {
  const lines = [`**EPT translation of GPA ${t.gpa}** (${t.access})`, ''];
  for (const s of t.steps) lines.push(`- ${s.levelName} [${s.decoded.index}] at HPA ${s.entryAddress} = \`${s.value}\` — ${rwx(s.decoded.r, s.decoded.w, s.decoded.x)} ${s.decoded.kind}${s.decoded.kind === 'table' ? ` → ${s.decoded.target}` : s.decoded.kind === 'page' ? ` → ${s.decoded.target} (${sizeName(s.decoded.size)}, ${s.decoded.memoryTypeName})` : ''}`);
  lines.push('');
  const r = t.result;
  lines.push(r.kind === 'ok' ? `**→ HPA ${r.hpa}** (${sizeName(r.pageSize)} page, ${rwx(r.r, r.w, r.x)})` : `**→ ${r.exitName}** (exit reason ${r.exitReason}) at level ${r.level}: ${md(r.reason)}${r.qualification !== null ? `, qualification ${r.qualification}` : ''}`);
  return lines.join('\n');
}
