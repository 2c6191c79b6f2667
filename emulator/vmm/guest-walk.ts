// The hypervisor's software walk of the guest's own page tables (GVA → GPA), as KVM's gva_to_gpa does for instruction emulation.
import { POW2 } from '../mem/pow2.js';
import type { GuestMemory } from './guest-memory.js';

/** The guest paging state a walk needs (from the VMCS guest-state area). */
export interface GuestPagingState {
  cr0: number;
  cr3: number;
  cr4: number;
  efer: number;
}

/** One level of a guest walk, for the views' page-walk picture. */
export interface GuestWalkStep {
  level: number;
  /** Guest-physical address of the entry. */
  entryGpa: number;
  lo: number;
  hi: number;
}

const TWO32 = 4294967296;

/**
 * Translate a guest-linear address with the guest's paging (SDM vol. 3A ch. 4), without
 * setting accessed/dirty bits. Returns the guest-physical address, or -1 when not present.
 * Permissions are not checked: the hypervisor emulates an access the processor already began.
 */
export function guestLinearToPhysical(mem: GuestMemory, s: GuestPagingState, lin: number, steps?: GuestWalkStep[]): number {
  if ((s.cr0 & 0x80000000) === 0 || (s.cr0 & 1) === 0) return lin < 0 ? -1 : lin % TWO32;
  const lin48 = lin < 0 ? lin + 2 ** 48 : lin;
  const pae = (s.cr4 & 0x20) !== 0;
  if (!pae) {
    const pdeA = ((s.cr3 & 0xfffff000) >>> 0) + ((lin48 >>> 22) << 2);
    const pde = mem.read32(pdeA);
    steps?.push({ level: 2, entryGpa: pdeA, lo: pde, hi: 0 });
    if ((pde & 1) === 0) return -1;
    if ((pde & 0x80) !== 0 && (s.cr4 & 0x10) !== 0) return ((pde >>> 13) & 0xff) * TWO32 + ((pde & 0xffc00000) >>> 0) + (lin48 & 0x3fffff);
    const pteA = ((pde & 0xfffff000) >>> 0) + (((lin48 >>> 12) & 0x3ff) << 2);
    const pte = mem.read32(pteA);
    steps?.push({ level: 1, entryGpa: pteA, lo: pte, hi: 0 });
    if ((pte & 1) === 0) return -1;
    return ((pte & 0xfffff000) >>> 0) + (lin48 & 0xfff);
  }
  const long = (s.efer & 0x400) !== 0;
  let table: number;
  let levels: number;
  if (long) { table = s.cr3 - (s.cr3 % 4096); levels = 4; }
  else {
    const a = ((s.cr3 & 0xffffffe0) >>> 0) + ((lin48 >>> 30) & 3) * 8;
    const lo = mem.read32(a), hi = mem.read32(a + 4);
    steps?.push({ level: 3, entryGpa: a, lo, hi });
    if ((lo & 1) === 0) return -1;
    table = (hi & 0xfffff) * TWO32 + ((lo & 0xfffff000) >>> 0);
    levels = 2;
  }
  for (let level = levels; level >= 1; level--) {
    const shift = 12 + 9 * (level - 1);
    const a = table + (Math.floor(lin48 / POW2[shift]) % 512) * 8;
    const lo = mem.read32(a), hi = mem.read32(a + 4);
    steps?.push({ level, entryGpa: a, lo, hi });
    if ((lo & 1) === 0) return -1;
    const frame = (hi & 0xfffff) * TWO32 + ((lo & 0xfffff000) >>> 0);
    if (level === 1 || ((lo & 0x80) !== 0 && level <= 3)) {
      const size = POW2[shift];
      return frame - (frame % size) + (lin48 % size);
    }
    table = frame;
  }
  return -1;
}
