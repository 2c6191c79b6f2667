// The EPT views: the EPTP, one EPT paging structure's 512 entries, the coalesced GPA→HPA mappings and one GPA's translation step by step (SDM vol. 3C §29.3).
import { Ept, EPT_FETCH, EPT_READ, EPT_WRITE, type EptStep } from '../ept/ept.js';
import { decodeEptp, effectiveSecondary, enableEpt } from '../vmx/controls.js';
import type { Hypervisor } from '../vmm/hypervisor.js';
import { hex, peek64, toAddress, ViewError, vmcsPeek } from './view-format.js';
import { memoryTypeName } from './view-vmcs.js';

export type EptAccess = 'read' | 'write' | 'fetch';

export interface EptpView {
  value: string;
  /** "Enable EPT" in the secondary controls in effect (SDM §25.6.2); without it GPA = HPA. */
  enabled: boolean;
  memoryType: number;
  memoryTypeName: string;
  pageWalkLength: number;
  adEnabled: boolean;
  sssEnabled: boolean;
  pml4: string;
}

export interface EptEntryView {
  index: number;
  /** Host-physical address of the entry. */
  address: string;
  value: string;
  /** 4 = PML4E, 3 = PDPTE, 2 = PDE, 1 = PTE; null when the table's level is unknown (decoded as a PTE then). */
  level: number | null;
  /** Bits 2:0 not all 0 (SDM §29.3.2: such an entry is not present). */
  present: boolean;
  r: boolean;
  w: boolean;
  x: boolean;
  /** Bit 10, execute for user-mode linear addresses (with mode-based execute control). */
  userX: boolean;
  /** Leaf only: EPT memory type (bits 5:3) and ignore-PAT (bit 6). */
  memoryType: number | null;
  memoryTypeName: string | null;
  ignorePat: boolean | null;
  /** Bit 7 in a PDPTE or PDE: the entry maps a 1 GiB / 2 MiB page. */
  largePage: boolean;
  accessed: boolean;
  /** Leaf only (bit 9). */
  dirty: boolean | null;
  /** The physical address in the entry: the next table, or the page frame. */
  target: string;
  kind: 'not-present' | 'table' | 'page' | 'misconfigured';
  /** Why the walk would end in an EPT misconfiguration at this entry (SDM §29.3.3.1). */
  misconfig?: string;
  /** Guest-physical range the entry covers: [gpaStart, gpaEnd); null when the table's position is unknown. */
  gpaStart: string | null;
  gpaEnd: string | null;
  /** Bytes covered (4 KiB, 2 MiB, 1 GiB, 512 GiB). */
  size: number;
}

export interface EptTableView {
  eptp: EptpView;
  table: string;
  level: number | null;
  gpaBase: string | null;
  entries: EptEntryView[];
}

export interface EptMapping {
  gpaStart: string;
  gpaEnd: string;
  hpaStart: string;
  size: number;
  r: boolean;
  w: boolean;
  x: boolean;
  memoryType: number;
  memoryTypeName: string;
  /** Page sizes of the leaves merged into this range. */
  pageSizes: number[];
}

export interface EptMappingsView {
  eptp: EptpView;
  mappings: EptMapping[];
  /** Entries where a walk would end in an EPT misconfiguration. */
  misconfigured: Array<{ level: number; address: string; value: string; gpaStart: string; reason: string }>;
  /** The walk was cut short (more than EPT_VIEW_MAX_ENTRIES entries). */
  truncated: boolean;
}

export interface EptTranslateStep {
  level: number;
  levelName: string;
  entryAddress: string;
  value: string;
  decoded: EptEntryView;
}

export type EptTranslateResult =
  | { kind: 'ok'; hpa: string; pageSize: number; r: boolean; w: boolean; x: boolean }
  | {
    kind: 'violation' | 'misconfig';
    /** The VM exit the access would cause: 48 EPT_VIOLATION or 49 EPT_MISCONFIG. */
    exitReason: number;
    exitName: 'EPT_VIOLATION' | 'EPT_MISCONFIG';
    level: number;
    entryAddress: string;
    /** EPT-violation qualification bits 5:0 (access and the R/W/X of the walk, SDM §28.2.1 table 28-7); null for a misconfiguration. */
    qualification: string | null;
    reason: string;
  };

export interface EptTranslateView {
  eptp: EptpView;
  gpa: string;
  access: EptAccess;
  steps: EptTranslateStep[];
  result: EptTranslateResult;
}

/** Upper bound on the entries eptMappings reads (a 4 GiB guest mapped with 4 KiB pages has ~1M). */
export const EPT_VIEW_MAX_ENTRIES = 1 << 21;

export const EPT_LEVEL_NAMES: Record<number, string> = { 4: 'EPT PML4E', 3: 'EPT PDPTE', 2: 'EPT PDE', 1: 'EPT PTE' };
const VALID_MT = 0b01110011; // 0 UC, 1 WC, 4 WT, 5 WP, 6 WB (SDM §29.3.7)

function eptpOf(hv: Hypervisor): { view: EptpView; raw: bigint } {
  const raw = vmcsPeek(hv, 'EPT_POINTER');
  const d = decodeEptp(raw);
  const sec = effectiveSecondary(Number(vmcsPeek(hv, 'CPU_BASED_VM_EXEC_CONTROL')), Number(vmcsPeek(hv, 'SECONDARY_VM_EXEC_CONTROL')));
  const pml4 = d.pml4 & ((1n << BigInt(hv.vmx.ept.maxPhys)) - 1n);
  return {
    raw,
    view: {
      value: hex(raw, 16), enabled: enableEpt(sec), memoryType: d.memoryType, memoryTypeName: memoryTypeName(d.memoryType),
      pageWalkLength: d.pageWalkLength, adEnabled: d.adEnabled, sssEnabled: d.sssEnabled, pml4: hex(pml4),
    },
  };
}

/** Decode one EPT entry (SDM vol. 3C tables 29-1 … 29-6) at a known level (null: unknown, decoded as a PTE). */
export function decodeEptEntry(v: bigint, level: number | null, maxPhys: number, index: number, address: number, gpaBase: bigint | null): EptEntryView {
  const lvl = level ?? 1;
  const lo = Number(v & 0xffffffffn);
  const rwx = lo & 7;
  const ps = (lo & 0x80) !== 0;
  const leaf = lvl === 1 || (ps && (lvl === 2 || lvl === 3));
  const shift = 12 + 9 * (lvl - 1);
  const size = 2 ** shift;
  const addrMask = ((1n << BigInt(maxPhys)) - 1n) & ~((1n << BigInt(leaf ? shift : 12)) - 1n);
  const mt = (lo >>> 3) & 7;
  let misconfig: string | undefined;
  if (rwx !== 0) {
    if ((rwx & 3) === 2) misconfig = 'write access without read access';
    else if (((v >> BigInt(maxPhys)) & ((1n << BigInt(52 - maxPhys)) - 1n)) !== 0n) misconfig = `address bits 51:${maxPhys} are reserved (MAXPHYADDR ${maxPhys})`;
    else if (lvl === 4 && (lo & 0xf8) !== 0) misconfig = 'bits 7:3 of a PML4E are reserved';
    else if (!leaf && (lo & 0x78) !== 0) misconfig = 'bits 6:3 of a non-leaf entry are reserved';
    else if (leaf && ((VALID_MT >>> mt) & 1) === 0) misconfig = `memory type ${mt} is reserved`;
    else if (leaf && lvl > 1 && (v & ((1n << BigInt(shift)) - 1n) & ~0xfffn) !== 0n) misconfig = `bits ${shift - 1}:12 of a ${lvl === 3 ? '1 GiB' : '2 MiB'} page's address are reserved`;
  }
  const start = gpaBase === null ? null : gpaBase + BigInt(index) * BigInt(size);
  return {
    index, address: hex(address), value: hex(v, 16), level, present: rwx !== 0,
    r: (rwx & 1) !== 0, w: (rwx & 2) !== 0, x: (rwx & 4) !== 0, userX: (lo & 0x400) !== 0,
    memoryType: leaf ? mt : null, memoryTypeName: leaf ? memoryTypeName(mt) : null, ignorePat: leaf ? (lo & 0x40) !== 0 : null,
    largePage: ps && (lvl === 2 || lvl === 3), accessed: (lo & 0x100) !== 0, dirty: leaf ? (lo & 0x200) !== 0 : null,
    target: hex(v & addrMask),
    kind: rwx === 0 ? 'not-present' : misconfig !== undefined ? 'misconfigured' : leaf ? 'page' : 'table',
    ...(misconfig !== undefined ? { misconfig } : {}),
    gpaStart: start === null ? null : hex(start), gpaEnd: start === null ? null : hex(start + BigInt(size)), size,
  };
}

/** Where a table sits in the EPT tree: its level and the first GPA it maps (breadth-first from the PML4, bounded). */
function locateTable(hv: Hypervisor, root: number, levels: number, table: number): { level: number; gpaBase: bigint } | null {
  const maxPhys = hv.vmx.ept.maxPhys;
  let frontier: Array<{ hpa: number; gpaBase: bigint }> = [{ hpa: root, gpaBase: 0n }];
  let read = 0;
  for (let level = levels; level >= 1 && frontier.length > 0; level--) {
    const hit = frontier.find((t) => t.hpa === table);
    if (hit !== undefined) return { level, gpaBase: hit.gpaBase };
    if (level === 1) break;
    const next: typeof frontier = [];
    const seen = new Set<number>();
    for (const t of frontier) {
      for (let i = 0; i < 512; i++) {
        if (++read > EPT_VIEW_MAX_ENTRIES) return null;
        const e = decodeEptEntry(peek64(hv.host, t.hpa + i * 8), level, maxPhys, i, t.hpa + i * 8, t.gpaBase);
        if (e.kind !== 'table') continue;
        const hpa = Number(BigInt(e.target));
        if (seen.has(hpa)) continue;
        seen.add(hpa);
        next.push({ hpa, gpaBase: BigInt(e.gpaStart!) });
      }
    }
    frontier = next;
  }
  return null;
}

/**
 * One EPT paging structure: the table at host-physical `tableHpa` (default the PML4 of the EPTP), its 512 entries
 * decoded. The level and GPA range come from finding the table in the tree; `level` may be given instead.
 */
export function eptView(hv: Hypervisor, tableHpa?: number | bigint | string, level?: number): EptTableView {
  const { view: eptp } = eptpOf(hv);
  const root = Number(BigInt(eptp.pml4));
  const table = tableHpa === undefined ? root : Number(toAddress(tableHpa, 'EPT table'));
  if (table % 4096 !== 0 || !hv.host.contains(table, 4096)) throw new ViewError(`EPT table ${hex(table)} is not a 4 KiB page of host memory`);
  if (level !== undefined && (!Number.isInteger(level) || level < 1 || level > eptp.pageWalkLength)) throw new ViewError(`EPT level ${level} is not 1..${eptp.pageWalkLength}`);
  const where = level !== undefined ? (table === root && level === eptp.pageWalkLength ? { level, gpaBase: 0n } : { level, gpaBase: null })
    : locateTable(hv, root, eptp.pageWalkLength, table);
  const lvl = where?.level ?? null;
  const base = where?.gpaBase ?? null;
  const entries: EptEntryView[] = [];
  for (let i = 0; i < 512; i++) entries.push(decodeEptEntry(peek64(hv.host, table + i * 8), lvl, hv.vmx.ept.maxPhys, i, table + i * 8, base));
  return { eptp, table: hex(table), level: lvl, gpaBase: base === null ? null : hex(base), entries };
}

/** Every GPA range the EPT maps, coalesced where GPA and HPA are contiguous with equal permissions and memory type. */
export function eptMappings(hv: Hypervisor): EptMappingsView {
  const { view: eptp } = eptpOf(hv);
  const maxPhys = hv.vmx.ept.maxPhys;
  const mappings: EptMapping[] = [];
  const misconfigured: EptMappingsView['misconfigured'] = [];
  let read = 0;
  let truncated = false;
  // Open range being coalesced (bigints: exact beyond 2^53).
  let cur: { gpa: bigint; end: bigint; hpa: bigint; r: boolean; w: boolean; x: boolean; mt: number; sizes: Set<number> } | null = null;
  const flush = () => {
    if (cur === null) return;
    mappings.push({
      gpaStart: hex(cur.gpa), gpaEnd: hex(cur.end), hpaStart: hex(cur.hpa), size: Number(cur.end - cur.gpa), r: cur.r, w: cur.w, x: cur.x,
      memoryType: cur.mt, memoryTypeName: memoryTypeName(cur.mt), pageSizes: [...cur.sizes].sort((a, b) => a - b),
    });
    cur = null;
  };
  const visit = (table: number, level: number, gpaBase: bigint, perm: number): void => {
    for (let i = 0; i < 512 && !truncated; i++) {
      if (++read > EPT_VIEW_MAX_ENTRIES) { truncated = true; return; }
      const at = table + i * 8;
      const e = decodeEptEntry(peek64(hv.host, at), level, maxPhys, i, at, gpaBase);
      if (e.kind === 'not-present') continue;
      if (e.kind === 'misconfigured') {
        misconfigured.push({ level, address: e.address, value: e.value, gpaStart: e.gpaStart!, reason: e.misconfig! });
        continue;
      }
      const p = perm & ((e.r ? 1 : 0) | (e.w ? 2 : 0) | (e.x ? 4 : 0));
      if (e.kind === 'table') { visit(Number(BigInt(e.target)), level - 1, BigInt(e.gpaStart!), p); continue; }
      const gpa = BigInt(e.gpaStart!), hpa = BigInt(e.target), size = BigInt(e.size);
      const r = (p & 1) !== 0, w = (p & 2) !== 0, x = (p & 4) !== 0, mt = e.memoryType!;
      // Leaves whose path ANDs to no access still map (an access violates); they are listed with R/W/X all false.
      if (cur !== null && cur.end === gpa && cur.hpa + (cur.end - cur.gpa) === hpa && cur.r === r && cur.w === w && cur.x === x && cur.mt === mt) {
        cur.end += size;
        cur.sizes.add(e.size);
      } else {
        flush();
        cur = { gpa, end: gpa + size, hpa, r, w, x, mt, sizes: new Set([e.size]) };
      }
    }
  };
  visit(Number(BigInt(eptp.pml4)), eptp.pageWalkLength, 0n, 7);
  flush();
  return { eptp, mappings, misconfigured, truncated };
}

/** Host memory for the walker that cannot be written (the walk is a peek: SDM §29.3.5's A/D updates never happen here). */
function readOnly(hv: Hypervisor) {
  return {
    read32: (a: number) => (hv.host.contains(a, 4) ? hv.host.read32(a) : 0),
    write32: () => { throw new Error('EPT view: a peek walk wrote host memory'); },
  };
}

/** The walk of one GPA (steps and result) on the VMCS's EPTP, without the EPTP view (the page-walk view uses it per entry). */
export function eptWalk(hv: Hypervisor, g: bigint, access: EptAccess): { steps: EptTranslateStep[]; result: EptTranslateResult } {
  const raw = vmcsPeek(hv, 'EPT_POINTER');
  const maxPhys = hv.vmx.ept.maxPhys;
  if (g < 0n || g >= 1n << BigInt(maxPhys)) throw new ViewError(`guest-physical address ${hex(g)} is beyond MAXPHYADDR (${maxPhys} bits)`);
  const acc = access === 'write' ? EPT_WRITE : access === 'fetch' ? EPT_FETCH : EPT_READ;
  const walker = new Ept(maxPhys);
  walker.eptp = Number(raw & ((1n << BigInt(maxPhys)) - 1n));
  const steps: EptStep[] = [];
  const hpa = walker.translate(readOnly(hv), Number(g), acc, true, steps);
  const out: EptTranslateStep[] = steps.map((s) => {
    const v = BigInt(s.lo >>> 0) | (BigInt(s.hi >>> 0) << 32n);
    const shift = BigInt(12 + 9 * (s.level - 1));
    const index = Number((g >> shift) & 511n);
    const base = (g >> (shift + 9n)) << (shift + 9n);
    const decoded = decodeEptEntry(v, s.level, maxPhys, index, s.entryAddress, base);
    return { level: s.level, levelName: EPT_LEVEL_NAMES[s.level] ?? `level ${s.level}`, entryAddress: hex(s.entryAddress), value: hex(v, 16), decoded };
  });
  let result: EptTranslateResult;
  if (hpa >= 0) {
    const last = out[out.length - 1].decoded;
    const perm = out.reduce((p, s) => p & ((s.decoded.r ? 1 : 0) | (s.decoded.w ? 2 : 0) | (s.decoded.x ? 4 : 0)), 7);
    result = { kind: 'ok', hpa: hex(hpa), pageSize: last.size, r: (perm & 1) !== 0, w: (perm & 2) !== 0, x: (perm & 4) !== 0 };
  } else {
    const f = walker.fault;
    const step = out.find((s) => s.level === f.level);
    const violation = f.kind === 'violation';
    const reason = !violation ? step?.decoded.misconfig ?? 'misconfigured entry'
      : step !== undefined && !step.decoded.present ? `${step.levelName} not present (bits 2:0 = 0)`
        : `${access} not allowed: the walk grants ${(f.allowed & 1) !== 0 ? 'R' : '-'}${(f.allowed & 2) !== 0 ? 'W' : '-'}${(f.allowed & 4) !== 0 ? 'X' : '-'}`;
    result = {
      kind: f.kind, exitReason: violation ? 48 : 49, exitName: violation ? 'EPT_VIOLATION' : 'EPT_MISCONFIG', level: f.level,
      entryAddress: hex(f.entryAddress), qualification: violation ? hex((1 << acc) | ((f.allowed & 7) << 3)) : null, reason,
    };
  }
  return { steps: out, result };
}

/**
 * The EPT translation of one guest-physical address for an access, as the processor would walk it: every step
 * and the HPA, or the EPT violation / misconfiguration it would cause. Uses a private walker on the VMCS's EPTP,
 * so the VMX unit's EPT cache and fault record are untouched.
 */
export function eptTranslate(hv: Hypervisor, gpa: number | bigint | string, access: EptAccess = 'read'): EptTranslateView {
  const { view: eptp } = eptpOf(hv);
  const g = toAddress(gpa, 'guest-physical address');
  const { steps, result } = eptWalk(hv, g, access);
  return { eptp, gpa: hex(g), access, steps, result };
}
