// Guest page walks: 32-bit (4 MiB pages), PAE and 4-level paging with A/D updates, NX/WP/U-S checks (SDM vol. 3A ch. 4).
import { POW2 } from '../mem/pow2.js';
import type { Cpu } from './cpu.js';
import { CR0_WP, CR4_PSE, EFER_NXE, EXC_PF } from './regs.js';

export const ACC_READ = 0, ACC_WRITE = 1, ACC_FETCH = 2;

/** Permission bits recorded in a TLB entry. */
export const TLB_USER = 1, TLB_WRITE = 2, TLB_EXEC = 4, TLB_DIRTY = 8, TLB_READ = 16;

/** Paging modes (SDM vol. 3A §4.1.1). */
export const PG_NONE = 0, PG_32 = 1, PG_PAE = 2, PG_4LEVEL = 3;

/** Entries of each of the processor's PDE and PDPTE caches (Cpu.pscTag: the PDE cache, then the PDPTE cache). */
export const PDE_CACHE_SIZE = 64;

/** MAXPHYADDR of this processor model (reported by CPUID 80000008H). */
export const MAXPHYADDR = 39;
const PHYS_HI_MASK = (1 << (MAXPHYADDR - 32)) - 1; // address bits 38:32 of a 64-bit entry

// #PF error code bits (SDM vol. 3A §4.7)
export const PFEC_P = 1, PFEC_W = 2, PFEC_U = 4, PFEC_RSVD = 8, PFEC_I = 16;

const TWO32 = 4294967296;

/** Result of a successful walk, for the debugger's page-walk view and the TLB. */
export interface WalkStep {
  level: number;
  /** Physical address of the entry that was read. */
  entryAddress: number;
  /** Entry value, low and high 32 bits. */
  lo: number;
  hi: number;
}

/**
 * Walks the guest's paging structures for `lin` and returns the physical address, filling the
 * CPU's TLB. On a fault it sets CR2 and raises #PF with the SDM's error code. `peek` walks
 * without side effects (no A/D updates, no fault, no TLB fill) and returns -1 if unmapped.
 */
export function walk(cpu: Cpu, lin: number, access: number, user: boolean, peek: boolean, steps?: WalkStep[]): number {
  // Paging-structure accesses are not data accesses for data breakpoints.
  cpu.suppressWatch++;
  try {
    return walkInner(cpu, lin, access, user, peek, steps);
  } finally {
    cpu.suppressWatch--;
  }
}

function walkInner(cpu: Cpu, lin: number, access: number, user: boolean, peek: boolean, steps?: WalkStep[]): number {
  const mode = cpu.pagingMode;
  const wp = (cpu.cr0 & CR0_WP) !== 0;
  const nxe = (cpu.efer & EFER_NXE) !== 0;
  let perm = TLB_USER | TLB_WRITE | TLB_EXEC | TLB_READ;
  let rsvd = false;
  // Entries whose A (and for the leaf on a write, D) bits we set once the walk succeeds.
  let pa = 0;
  let pageSize = 4096;
  const lin48 = lin < 0 ? lin + 2 ** 48 : lin;
  let leafAddr = -1;
  let leafLo = 0;
  const touched = cpu.walkTouched, touchedLo = cpu.walkTouchedLo;
  let nTouched = 0;
  // The PDE- and PDPTE-cache entries (Cpu.pscTag) the walk may create (pdeFill, pdpteFill: the table; -1 none).
  let pdeKey = 0, pdeSlot = 0, pdeFill = -1, pdeFillPerm = 0;
  let pdpteKey = 0, pdpteSlot = 0, pdpteFill = -1, pdpteFillPerm = 0;

  if (mode === 1 /* 32-bit */) {
    const pdeAddr = ((cpu.cr3 & 0xfffff000) >>> 0) + ((lin48 >>> 22) << 2);
    const pde = readEntry(cpu, pdeAddr, lin, peek);
    if (steps) steps.push({ level: 2, entryAddress: pdeAddr, lo: pde, hi: 0 });
    if ((pde & 1) === 0) return fault(cpu, lin, access, user, false, peek);
    if ((pde & 4) === 0) perm &= ~TLB_USER;
    if ((pde & 2) === 0) perm &= ~TLB_WRITE;
    touchedLo[nTouched] = pde;
    touched[nTouched++] = pdeAddr;
    if ((pde & 0x80) !== 0 && (cpu.cr4 & CR4_PSE) !== 0) {
      // 4 MiB page; bits 20:13 hold physical address bits 39:32 (PSE-36), bit 21 reserved.
      if ((pde & (1 << 21)) !== 0) rsvd = true;
      const hiBits = (pde >>> 13) & 0xff & ((1 << (MAXPHYADDR - 32)) - 1);
      if (((pde >>> 13) & 0xff) >>> (MAXPHYADDR - 32) !== 0) rsvd = true;
      pa = hiBits * TWO32 + ((pde & 0xffc00000) >>> 0) + (lin48 & 0x3fffff);
      pageSize = 4 * 1024 * 1024;
      leafAddr = pdeAddr;
      leafLo = pde;
    } else {
      const pteAddr = ((pde & 0xfffff000) >>> 0) + (((lin48 >>> 12) & 0x3ff) << 2);
      const pte = readEntry(cpu, pteAddr, lin, peek);
      if (steps) steps.push({ level: 1, entryAddress: pteAddr, lo: pte, hi: 0 });
      if ((pte & 1) === 0) return fault(cpu, lin, access, user, false, peek);
      if ((pte & 4) === 0) perm &= ~TLB_USER;
      if ((pte & 2) === 0) perm &= ~TLB_WRITE;
      pa = ((pte & 0xfffff000) >>> 0) + (lin48 & 0xfff);
      leafAddr = pteAddr;
      leafLo = pte;
    }
  } else {
    // PAE or 4-level: 64-bit entries.
    let levels: number;
    let tableBase: number;
    // The PDE and PDPTE caches (Cpu.pscTag): a hit gives the page table (page directory) and the upper entries'
    // rights, and the walk reads the PTE (the PDE and what it maps) alone. Not for peeks and the page-walk view, which
    // read every level from memory.
    pdeKey = Math.floor(lin48 / 2097152);
    pdeSlot = pdeKey & (PDE_CACHE_SIZE - 1);
    pdpteKey = Math.floor(lin48 / 1073741824);
    pdpteSlot = PDE_CACHE_SIZE + (pdpteKey & (PDE_CACHE_SIZE - 1));
    const cached = !peek && steps === undefined;
    const hit = !cached ? -1 : cpu.pscTag[pdeSlot] === pdeKey ? pdeSlot : cpu.pscTag[pdpteSlot] === pdpteKey ? pdpteSlot : -1;
    if (hit >= 0) {
      tableBase = cpu.pscTable[hit];
      perm = cpu.pscPerm[hit];
      levels = hit === pdeSlot ? 1 : 2;
    } else if (mode === 2 /* PAE */) {
      const pdpteAddr = ((cpu.cr3 & 0xffffffe0) >>> 0) + ((lin48 >>> 30) & 3) * 8;
      const lo = readEntry(cpu, pdpteAddr, lin, peek), hi = readEntry(cpu, pdpteAddr + 4, lin, peek);
      if (steps) steps.push({ level: 3, entryAddress: pdpteAddr, lo, hi });
      if ((lo & 1) === 0) return fault(cpu, lin, access, user, false, peek);
      // PDPTE reserved bits: 2:1, 8:5, 63 and above MAXPHYADDR (SDM vol. 3A §4.4.1).
      if ((lo & 0x1e6) !== 0 || (hi & ~PHYS_HI_MASK) !== 0) return fault(cpu, lin, access, user, true, peek);
      tableBase = (hi & PHYS_HI_MASK) * TWO32 + ((lo & 0xfffff000) >>> 0);
      levels = 2;
    } else {
      tableBase = Math.floor(cpu.cr3 / 4096) * 4096 % POW2[MAXPHYADDR];
      levels = 4;
    }
    for (let level = levels; level >= 1; level--) {
      const shift = 12 + 9 * (level - 1);
      const index = Math.floor(lin48 / POW2[shift]) % 512;
      const entryAddr = tableBase + index * 8;
      const lo = readEntry(cpu, entryAddr, lin, peek), hi = readEntry(cpu, entryAddr + 4, lin, peek);
      if (steps) steps.push({ level, entryAddress: entryAddr, lo, hi });
      if ((lo & 1) === 0) return fault(cpu, lin, access, user, rsvd, peek);
      if ((hi & 0x000fffff & ~PHYS_HI_MASK) !== 0) rsvd = true; // address bits 51:MAXPHYADDR are reserved
      if ((hi & 0x80000000) !== 0) {
        if (!nxe) rsvd = true;
        else perm &= ~TLB_EXEC;
      }
      if ((lo & 4) === 0) perm &= ~TLB_USER;
      if ((lo & 2) === 0) perm &= ~TLB_WRITE;
      touchedLo[nTouched] = lo;
      touched[nTouched++] = entryAddr;
      const ps = (lo & 0x80) !== 0;
      if (level === 4 && ps) rsvd = true; // PML4E.PS is reserved
      if (ps && (level === 3 || level === 2)) {
        // 1 GiB / 2 MiB page: address bits below the page size (excluding PAT bit 12) must be 0.
        const lowMask = level === 3 ? 0x3fffe000 : 0x1fe000;
        if ((lo & lowMask) !== 0) rsvd = true;
        const size = POW2[shift];
        const frame = (hi & PHYS_HI_MASK) * TWO32 + ((lo & 0xfffff000) >>> 0);
        pa = frame - (frame % size) + (lin48 % size);
        pageSize = size;
        leafAddr = entryAddr;
        leafLo = lo;
        break;
      }
      if (level === 1) {
        pa = (hi & PHYS_HI_MASK) * TWO32 + ((lo & 0xfffff000) >>> 0) + (lin48 & 0xfff);
        leafAddr = entryAddr;
        leafLo = lo;
        break;
      }
      tableBase = (hi & PHYS_HI_MASK) * TWO32 + ((lo & 0xfffff000) >>> 0);
      // A present PDE without PS and no reserved bit so far: its page table may go to the PDE cache.
      if (level === 2 && !rsvd) { pdeFill = tableBase; pdeFillPerm = perm; }
      // Likewise a present PDPTE without PS (4-level paging: PAE's PDPTEs are loaded with CR3, SDM vol. 3A §4.4.1).
      if (level === 3 && !rsvd) { pdpteFill = tableBase; pdpteFillPerm = perm; }
    }
    if (rsvd) return fault(cpu, lin, access, user, true, peek);
  }
  if (rsvd) return fault(cpu, lin, access, user, true, peek);

  // Access rights (SDM vol. 3A §4.6).
  if (user && (perm & TLB_USER) === 0) return fault(cpu, lin, access, user, false, peek, true);
  if (access === ACC_WRITE && (perm & TLB_WRITE) === 0 && (user || wp)) return fault(cpu, lin, access, user, false, peek, true);
  if (access === ACC_FETCH && (perm & TLB_EXEC) === 0) return fault(cpu, lin, access, user, false, peek, true);
  if (peek) return cpu.gpa2hpaPeek(pa);

  // Set accessed bits on every entry used, dirty on the leaf for writes (SDM vol. 3A §4.8).
  // These updates are writes to guest paging structures (through EPT when it is on). The entries' values are the ones
  // the walk read, updated as bits are set: an entry used at more than one level (a recursive mapping) is seen with
  // the bits set at the earlier level, as a read of memory would see it.
  let dirty = (leafLo & 0x40) !== 0;
  for (let k = 0; k < nTouched; k++) {
    const a = touched[k], v = setEntryBits(cpu, a, touchedLo[k], 0x20, lin);
    for (let j = k + 1; j < nTouched; j++) if (touched[j] === a) touchedLo[j] = v;
    if (a === leafAddr) leafLo = v;
  }
  if (access === ACC_WRITE) {
    setEntryBits(cpu, leafAddr, leafLo, 0x60, lin);
    dirty = true;
  } else if (leafAddr !== touched[nTouched - 1]) {
    setEntryBits(cpu, leafAddr, leafLo, 0x20, lin);
  }
  // The upper entries' accessed flags are set now: the PDE-cache entry may be created (before the page's own EPT
  // translation, which can exit: an MMIO page's next access then walks from the cache).
  if (pdeFill >= 0) cacheTable(cpu, pdeSlot, pdeKey, pdeFill, pdeFillPerm);
  if (pdpteFill >= 0) cacheTable(cpu, pdpteSlot, pdpteKey, pdpteFill, pdpteFillPerm);
  const hpa = cpu.gpa2hpa(pa, access, lin, false);
  if (hpa < 0) return hpa; // Cpu.softRead/softWrite: the EPT exit was performed
  if (dirty) perm |= TLB_DIRTY;
  if (cpu.ept !== null) perm &= cpu.eptTlbMask();
  // The TLB caches 4 KiB translations even for large pages.
  const vpn = Math.floor(lin / 4096);
  cpu.tlbFill(vpn, hpa - (hpa % 4096), perm, access);
  void pageSize;
  return hpa;
}

/** Fill slot `slot` of the PDE/PDPTE caches (Cpu.pscTag) with `table` and `perm` for the linear-address prefix `key`. */
function cacheTable(cpu: Cpu, slot: number, key: number, table: number, perm: number): void {
  cpu.pscTag[slot] = key; cpu.pscTable[slot] = table; cpu.pscPerm[slot] = perm;
}

/**
 * A paging-structure entry's low or high word at guest-physical `gpa` (with EPT, translated: the two-dimensional walk;
 * `peek`: without side effects, see readPeek). A function, not a closure in walkInner: V8 would allocate a context for
 * the closure at every walk.
 */
function readEntry(cpu: Cpu, gpa: number, lin: number, peek: boolean): number {
  return peek ? readPeek(cpu, gpa) : cpu.physRead32(cpu.gpa2hpa(gpa, ACC_READ, lin, true));
}

/** Set `bits` (A, or A and D) in the entry at guest-physical `gpa` whose value is `v`; returns its value now. */
function setEntryBits(cpu: Cpu, gpa: number, v: number, bits: number, lin: number): number {
  if ((v & bits) === bits) return v;
  const now = (v | bits) >>> 0;
  cpu.physWrite32(cpu.gpa2hpa(gpa, ACC_WRITE, lin, true), now);
  return now;
}

/** Paging-structure read for a side-effect-free walk: 0 (not present) where EPT does not map it. */
function readPeek(cpu: Cpu, gpa: number): number {
  const h = cpu.gpa2hpaPeek(gpa);
  if (h < 0) return 0;
  let v = 0;
  for (let k = 3; k >= 0; k--) v = (v << 8) | cpu.physPeek8(h + k);
  return v >>> 0;
}

function fault(cpu: Cpu, lin: number, access: number, user: boolean, rsvd: boolean, peek: boolean, present = false): number {
  if (peek) return -1;
  let code = 0;
  if (present || rsvd) code |= PFEC_P;
  if (access === ACC_WRITE) code |= PFEC_W;
  if (user) code |= PFEC_U;
  if (rsvd) code |= PFEC_RSVD;
  if (access === ACC_FETCH && (cpu.efer & EFER_NXE) !== 0 && cpu.pagingMode >= PG_PAE) code |= PFEC_I;
  cpu.pfLinear = lin;
  return cpu.raise(EXC_PF, code);
}
