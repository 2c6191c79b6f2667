// The two-dimensional page-walk view: a guest-virtual address through the guest's paging structures, each entry's GPA through EPT, then the final GPA (SDM vol. 3A ch. 4, vol. 3C §29.3.2).
import type { Hypervisor } from '../vmm/hypervisor.js';
import { MAXPHYADDR } from '../cpu/paging.js';
import { eptWalk, type EptAccess, type EptTranslateResult, type EptTranslateStep } from './view-ept.js';
import { hex, peek64, toAddress, vmcsPeek } from './view-format.js';
import { effectiveSecondary, enableEpt } from '../vmx/controls.js';

export type PagingMode = 'none' | '32-bit' | 'PAE' | '4-level';

/** An EPT walk of one guest-physical address (null when EPT is off: GPA = HPA). */
export interface EptWalkView {
  steps: EptTranslateStep[];
  result: EptTranslateResult;
}

export interface GuestEntryDecoded {
  P: boolean;
  RW: boolean;
  US: boolean;
  PWT: boolean;
  PCD: boolean;
  A: boolean;
  /** Leaf entries only. */
  D: boolean | null;
  /** PDPTE/PDE (4-level, PAE) or PDE (32-bit with CR4.PSE): the entry maps a page. */
  PS: boolean | null;
  /** Leaf entries only. */
  G: boolean | null;
  /** Execute-disable (bit 63; 64-bit entries). */
  NX: boolean | null;
  /** The next table or the page frame. */
  address: string;
}

export interface GuestLevelView {
  level: number;
  levelName: string;
  /** Guest-physical address of the entry. */
  entryGpa: string;
  /** EPT walk of entryGpa (a read, as the processor's paging-structure access). */
  ept: EptWalkView | null;
  /** Host-physical address the entry was read from; null when EPT stopped the walk. */
  entryHpa: string | null;
  value: string | null;
  decoded: GuestEntryDecoded | null;
  /** Reserved bits set in this entry (a #PF with error-code bit RSVD, SDM vol. 3A §4.7). */
  reserved?: string;
}

export type PageWalkStop =
  | { level: number; reason: 'not-present'; detail: string }
  | { level: number; reason: 'reserved-bit'; detail: string }
  | { level: number; reason: 'ept-violation' | 'ept-misconfig'; detail: string; exitReason: number }
  | { level: number; reason: 'non-canonical'; detail: string };

export interface PageWalkView {
  gva: string;
  mode: PagingMode;
  /** Where the paging state was taken from: the processor (guest running) or the VMCS guest-state area (at a VM exit). */
  source: 'cpu' | 'vmcs';
  cr0: string;
  cr3: string;
  cr4: string;
  efer: string;
  eptEnabled: boolean;
  levels: GuestLevelView[];
  /** The translation when the guest walk succeeded (the final EPT walk may still stop: see `stop`). */
  gpa: string | null;
  pageSize: number | null;
  /** The AND of R/W and U/S and the OR of NX along the walk (SDM vol. 3A §4.6). */
  permissions: { writable: boolean; user: boolean; executable: boolean } | null;
  finalEpt: EptWalkView | null;
  hpa: string | null;
  stop: PageWalkStop | null;
}

const NAMES: Record<PagingMode, Record<number, string>> = {
  none: {},
  '32-bit': { 2: 'PDE', 1: 'PTE' },
  PAE: { 3: 'PDPTE', 2: 'PDE', 1: 'PTE' },
  '4-level': { 4: 'PML4E', 3: 'PDPTE', 2: 'PDE', 1: 'PTE' },
};

const bit = (v: bigint, b: number): boolean => ((v >> BigInt(b)) & 1n) === 1n;
const mask = (hi: number, lo: number): bigint => ((1n << BigInt(hi + 1)) - 1n) & ~((1n << BigInt(lo)) - 1n);

/** The guest's paging registers: from the processor while it runs the guest, else from the VMCS. */
function pagingState(hv: Hypervisor): { source: 'cpu' | 'vmcs'; cr0: bigint; cr3: bigint; cr4: bigint; efer: bigint } {
  if (hv.inGuest) {
    const c = hv.cpu;
    return { source: 'cpu', cr0: BigInt(c.cr0 >>> 0), cr3: BigInt.asUintN(64, BigInt(c.cr3)), cr4: BigInt(c.cr4 >>> 0), efer: BigInt(c.efer >>> 0) };
  }
  return { source: 'vmcs', cr0: vmcsPeek(hv, 'GUEST_CR0'), cr3: vmcsPeek(hv, 'GUEST_CR3'), cr4: vmcsPeek(hv, 'GUEST_CR4'), efer: vmcsPeek(hv, 'GUEST_IA32_EFER') };
}

/**
 * Walk `gva` as the guest's processor would (SDM vol. 3A §4.3 32-bit, §4.4 PAE, §4.5 4-level paging), reading each
 * entry through EPT from host memory. Nothing is written: no accessed/dirty flags (guest or EPT), no TLB fill, no fault.
 * PAE PDPTEs are read from memory at CR3 as the emulated processor does at each walk.
 */
export function pageWalkView(hv: Hypervisor, gva: number | bigint | string, access: EptAccess = 'read'): PageWalkView {
  const st = pagingState(hv);
  const sec = effectiveSecondary(Number(vmcsPeek(hv, 'CPU_BASED_VM_EXEC_CONTROL')), Number(vmcsPeek(hv, 'SECONDARY_VM_EXEC_CONTROL')));
  const eptOn = enableEpt(sec);
  const lin = toAddress(gva, 'guest-virtual address');
  const pg = bit(st.cr0, 31) && bit(st.cr0, 0);
  const mode: PagingMode = !pg ? 'none' : !bit(st.cr4, 5) ? '32-bit' : bit(st.efer, 10) ? '4-level' : 'PAE';
  const nxe = bit(st.efer, 11);
  const M = MAXPHYADDR;
  const view: PageWalkView = {
    gva: hex(lin), mode, source: st.source, cr0: hex(st.cr0), cr3: hex(st.cr3), cr4: hex(st.cr4), efer: hex(st.efer), eptEnabled: eptOn,
    levels: [], gpa: null, pageSize: null, permissions: null, finalEpt: null, hpa: null, stop: null,
  };
  /** EPT-translate a GPA; null walk when EPT is off. Returns the HPA, or null with `view.stop` set. */
  const throughEpt = (g: bigint, acc: EptAccess, level: number): { walk: EptWalkView | null; hpa: bigint | null } => {
    if (!eptOn) return { walk: null, hpa: g };
    if (g >= 1n << BigInt(hv.vmx.ept.maxPhys)) {
      view.stop = { level, reason: 'ept-violation', detail: `guest-physical ${hex(g)} is beyond MAXPHYADDR`, exitReason: 48 };
      return { walk: null, hpa: null };
    }
    const walk = eptWalk(hv, g, acc);
    if (walk.result.kind === 'ok') return { walk, hpa: BigInt(walk.result.hpa) };
    view.stop = { level, reason: walk.result.kind === 'violation' ? 'ept-violation' : 'ept-misconfig', detail: walk.result.reason, exitReason: walk.result.exitReason };
    return { walk, hpa: null };
  };

  let gpa: bigint;
  let pageSize = 4096;
  let writable = true, user = true, executable = true;
  if (mode === 'none') {
    gpa = lin & 0xffffffffn; // paging off: linear = physical, 32 bits (SDM vol. 3A §4.1.1)
  } else {
    const entryBytes = mode === '32-bit' ? 4 : 8;
    let levels: number;
    let table: bigint;
    if (mode === '4-level') {
      // Bits 63:47 must all equal bit 47 (SDM vol. 3A §3.3.7.1); else #GP, no walk.
      const top = lin >> 47n;
      if (top !== 0n && top !== (1n << 17n) - 1n) {
        view.stop = { level: 4, reason: 'non-canonical', detail: `${hex(lin)} is not canonical (bits 63:47 differ): #GP, not a page walk` };
        return view;
      }
      levels = 4;
      table = st.cr3 & mask(M - 1, 12);
    } else if (mode === 'PAE') {
      levels = 3;
      table = st.cr3 & 0xffffffe0n;
    } else {
      levels = 2;
      table = st.cr3 & 0xfffff000n;
    }
    const pse = bit(st.cr4, 4);
    gpa = 0n;
    for (let level = levels; level >= 1; level--) {
      const shift = mode === '32-bit' ? 12 + 10 * (level - 1) : 12 + 9 * (level - 1);
      const indexBits = mode === '32-bit' ? 10 : mode === 'PAE' && level === 3 ? 2 : 9;
      const index = (lin >> BigInt(shift)) & ((1n << BigInt(indexBits)) - 1n);
      const entryGpa = table + index * BigInt(entryBytes);
      const levelName = NAMES[mode][level];
      const lv: GuestLevelView = { level, levelName, entryGpa: hex(entryGpa), ept: null, entryHpa: null, value: null, decoded: null };
      view.levels.push(lv);
      const t = throughEpt(entryGpa, 'read', level);
      lv.ept = t.walk;
      if (t.hpa === null) return view;
      lv.entryHpa = hex(t.hpa);
      const raw = peek64(hv.host, Number(t.hpa));
      const e = entryBytes === 4 ? raw & 0xffffffffn : raw;
      lv.value = hex(e, entryBytes * 2);
      // PS: a PDE with CR4.PSE (32-bit), a PDE (PAE), a PDPTE or PDE (4-level).
      const ps = bit(e, 7) && (mode === '32-bit' ? level === 2 && pse : mode === 'PAE' ? level === 2 : level === 2 || level === 3);
      const pdpteReg = mode === 'PAE' && level === 3;
      const leaf = level === 1 || ps;
      const addr = mode === '32-bit'
        ? (ps ? (e & 0xffc00000n) | (((e >> 13n) & 0xffn) << 32n) : e & 0xfffff000n)
        : e & mask(M - 1, ps ? shift : 12);
      lv.decoded = {
        P: bit(e, 0), RW: bit(e, 1), US: bit(e, 2), PWT: bit(e, 3), PCD: bit(e, 4), A: bit(e, 5),
        D: leaf ? bit(e, 6) : null, PS: (level === 2 || (level === 3 && mode === '4-level')) ? bit(e, 7) : null,
        G: leaf ? bit(e, 8) : null, NX: entryBytes === 8 && !pdpteReg ? bit(e, 63) : null, address: hex(addr),
      };
      if (pdpteReg) { lv.decoded.RW = false; lv.decoded.US = false; lv.decoded.A = false; } // bits 2:1 and 5 are reserved/ignored in PAE PDPTEs
      if (!bit(e, 0)) {
        view.stop = { level, reason: 'not-present', detail: `${levelName} not present (P = 0): #PF` };
        return view;
      }
      // Reserved bits (SDM vol. 3A §4.3 table 4-4 … 4-6, §4.4.1, §4.4.2 tables 4-8 … 4-11, §4.5 tables 4-14 … 4-20).
      const rsvd: string[] = [];
      if (entryBytes === 8) {
        if ((e & mask(51, M)) !== 0n) rsvd.push(`51:${M} (above MAXPHYADDR)`);
        if (pdpteReg) {
          if ((e & 0x1e6n) !== 0n) rsvd.push('2:1, 8:5 (PAE PDPTE)');
          if (bit(e, 63)) rsvd.push('63 (PAE PDPTE)');
        } else if (bit(e, 63) && !nxe) rsvd.push('63 (XD with EFER.NXE = 0)');
        if (mode === '4-level' && level === 4 && bit(e, 7)) rsvd.push('7 (PS in a PML4E)');
        if (ps && level === 3 && (e & mask(29, 13)) !== 0n) rsvd.push('29:13 (1 GiB page)');
        if (ps && level === 2 && (e & mask(20, 13)) !== 0n) rsvd.push('20:13 (2 MiB page)');
      } else if (ps) {
        if (bit(e, 21)) rsvd.push('21 (4 MiB page)');
        if (M < 40 && ((e >> 13n) & 0xffn) >> BigInt(M - 32) !== 0n) rsvd.push(`20:${13 + M - 32} (PSE-36 address bits above MAXPHYADDR)`);
      }
      if (rsvd.length > 0) {
        lv.reserved = rsvd.join('; ');
        view.stop = { level, reason: 'reserved-bit', detail: `${levelName} has reserved bit(s) set: ${lv.reserved}: #PF with RSVD` };
        return view;
      }
      if (!pdpteReg) {
        writable &&= bit(e, 1);
        user &&= bit(e, 2);
        if (entryBytes === 8 && nxe && bit(e, 63)) executable = false;
      }
      if (leaf) {
        pageSize = 2 ** shift;
        gpa = addr + (lin & ((1n << BigInt(shift)) - 1n));
        break;
      }
      table = addr;
    }
  }
  view.gpa = hex(gpa);
  view.pageSize = mode === 'none' ? null : pageSize;
  view.permissions = mode === 'none' ? null : { writable, user, executable };
  const t = throughEpt(gpa, access, 0);
  view.finalEpt = t.walk;
  if (t.hpa !== null) view.hpa = hex(t.hpa);
  return view;
}
