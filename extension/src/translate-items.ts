// "Translate Guest Address…" results as quick-pick rows: each step of the guest page walk and of the EPT walks, then the result (pure).
import type { EptTranslateView, PageWalkView } from '../../emulator/debug/views.js';
import { sizeName } from './model/ept-model.js';

export interface ResultItem { label: string; description?: string; detail?: string }

const rwx = (r: boolean, w: boolean, x: boolean): string => `${r ? 'R' : '-'}${w ? 'W' : '-'}${x ? 'X' : '-'}`;

/** A GPA through EPT (SDM vol. 3C §29.3.2): one row per EPT entry, then the HPA or the exit. */
export function eptItems(t: EptTranslateView): ResultItem[] {
  const out: ResultItem[] = t.steps.map((s) => ({
    label: `$(arrow-down) ${s.levelName} [${s.decoded.index}]`,
    description: `${rwx(s.decoded.r, s.decoded.w, s.decoded.x)} ${s.decoded.kind === 'table' ? `→ table ${s.decoded.target}` : s.decoded.kind === 'page' ? `→ ${s.decoded.target} (${sizeName(s.decoded.size)} ${s.decoded.memoryTypeName ?? ''})` : s.decoded.kind}`,
    detail: `entry at HPA ${s.entryAddress} = ${s.value}${s.decoded.misconfig !== undefined ? ` — ${s.decoded.misconfig}` : ''}`,
  }));
  const r = t.result;
  out.push(r.kind === 'ok'
    ? { label: `$(pass) GPA ${t.gpa} → HPA ${r.hpa}`, description: `${sizeName(r.pageSize)} page, ${rwx(r.r, r.w, r.x)}`, detail: `${t.access} access allowed` }
    : { label: `$(error) ${r.exitName} (exit reason ${r.exitReason})`, description: `at level ${r.level}`, detail: `${r.reason}${r.qualification !== null ? `; qualification ${r.qualification}` : ''}` });
  return out;
}

/** A GVA through the guest's paging (SDM vol. 3A §4) with each paging-structure read through EPT, then the final GPA → HPA. */
export function pageWalkItems(v: PageWalkView): ResultItem[] {
  const out: ResultItem[] = [{ label: `$(info) GVA ${v.gva}`, description: `${v.mode} paging, CR3 ${v.cr3}`, detail: `paging state from the ${v.source === 'cpu' ? 'processor' : 'VMCS guest-state area'}; EPT ${v.eptEnabled ? 'on' : 'off'}` }];
  for (const l of v.levels) {
    const eptRes = l.ept === null ? '' : l.ept.result.kind === 'ok' ? ` → HPA ${l.ept.result.hpa}` : ` → ${l.ept.result.exitName}`;
    const d = l.decoded;
    out.push({
      label: `$(arrow-down) ${l.levelName}`,
      description: l.value === null ? 'not read' : `${l.value}${d !== null ? ` ${d.P ? 'P' : '-'}${d.RW ? 'W' : '-'}${d.US ? 'U' : '-'}${d.A ? 'A' : '-'}${d.D === true ? 'D' : ''}${d.PS === true ? ' PS' : ''}${d.NX === true ? ' NX' : ''}` : ''}`,
      detail: `entry at GPA ${l.entryGpa}${eptRes}${l.reserved !== undefined ? `; reserved bits ${l.reserved}` : ''}`,
    });
  }
  if (v.stop !== null) out.push({ label: `$(error) walk stopped at level ${v.stop.level}: ${v.stop.reason}`, detail: v.stop.detail });
  if (v.gpa !== null) out.push({ label: `$(arrow-right) GPA ${v.gpa}`, description: v.pageSize !== null ? `${sizeName(v.pageSize)} page` : '', detail: v.permissions !== null ? `writable ${v.permissions.writable}, user ${v.permissions.user}, executable ${v.permissions.executable}` : '' });
  if (v.hpa !== null) out.push({ label: `$(pass) HPA ${v.hpa}` });
  return out;
}
