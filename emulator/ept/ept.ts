// EPT: guest-physical → host-physical walks with R/W/X, memory type, A/D flags, violations and misconfigurations (SDM vol. 3C §29.3).
import { POW2 } from '../mem/pow2.js';

/** Access kinds, as the EPT-violation qualification bits 0..2 name them. */
export const EPT_READ = 0, EPT_WRITE = 1, EPT_FETCH = 2;

/** EPTP fields (SDM vol. 3C §25.6.11). */
export const EPTP_MT_MASK = 0x7, EPTP_WALK_SHIFT = 3, EPTP_AD = 1 << 6;

/** EPT entry bits (SDM vol. 3C tables 29-1 .. 29-6). */
export const EPT_R = 1, EPT_W = 2, EPT_X = 4, EPT_MT_SHIFT = 3, EPT_IPAT = 1 << 6, EPT_PS = 1 << 7, EPT_A = 1 << 8, EPT_D = 1 << 9;

/** Memory types valid in a leaf (0 UC, 1 WC, 4 WT, 5 WP, 6 WB); 2, 3 and 7 are reserved. */
const VALID_MT = 0b01110011;

const TWO32 = 4294967296;

/** Host-physical memory as the EPT walker sees it (no MMIO: EPT tables live in RAM). */
export interface EptMemory {
  read32(hpa: number): number;
  write32(hpa: number, v: number): void;
}

/** Why a translation failed; the VMX unit turns it into an EPT_VIOLATION or EPT_MISCONFIG exit. */
export interface EptFault {
  kind: 'violation' | 'misconfig';
  /** EPT-violation qualification bits 3..6: the AND of the R, W, X (and user-X) bits along the walk (0 when not present). */
  allowed: number;
  /** Level of the entry that failed (4 = PML4E .. 1 = PTE). */
  level: number;
  /** Host-physical address of that entry. */
  entryAddress: number;
}

/** One step of a walk, for the views' two-dimensional page-walk picture. */
export interface EptStep {
  level: number;
  entryAddress: number;
  lo: number;
  hi: number;
}

/**
 * An EPT context: the EPTP and a small cache of guest-physical page → host-physical page
 * translations with their permissions (flushed by INVEPT and EPTP changes).
 */
export class Ept {
  eptp = 0;
  /** MAXPHYADDR of the host. */
  readonly maxPhys: number;
  private readonly tag = new Float64Array(1024).fill(NaN);
  private readonly hpage = new Float64Array(1024);
  private readonly perm = new Uint8Array(1024);
  /**
   * Permissions of the last successful translation: bits 0..2 R/W/X (the AND along the walk),
   * bit 3 set when a write needs no walk (A/D off, or the dirty flag already set).
   */
  lastPerm = 0;
  /** Set by a failed translate(). */
  fault: EptFault = { kind: 'violation', allowed: 0, level: 0, entryAddress: 0 };

  constructor(maxPhys = 39) {
    this.maxPhys = maxPhys;
  }

  get adEnabled(): boolean {
    return (this.eptp & EPTP_AD) !== 0;
  }

  setEptp(eptp: number): void {
    this.eptp = eptp;
    this.flush();
  }

  flush(): void {
    this.tag.fill(NaN);
  }

  /**
   * Translate `gpa` for `access`. Returns the host-physical address, or -1 with `fault` set.
   * Sets accessed (and for writes dirty) flags when the EPTP enables them (SDM §29.3.5);
   * `peek` walks without setting flags or filling the cache.
   */
  translate(mem: EptMemory, gpa: number, access: number, peek = false, steps?: EptStep[]): number {
    const gpn = Math.floor(gpa / 4096);
    const k = gpn & 1023;
    if (!peek && steps === undefined && this.tag[k] === gpn) {
      const p = this.perm[k];
      // Bit 3 of the cached permission: dirty already set (writes need no walk).
      if (((p >>> access) & 1) !== 0 && (access !== EPT_WRITE || (p & 8) !== 0)) { this.lastPerm = p; return this.hpage[k] + (gpa - gpn * 4096); }
    }
    return this.walk(mem, gpa, access, peek, steps);
  }

  /** Addresses of the entries a walk used (for their accessed flags): reused, no array per walk. */
  private readonly touched = new Float64Array(5);

  private walk(mem: EptMemory, gpa: number, access: number, peek: boolean, steps?: EptStep[]): number {
    const physMask = POW2[this.maxPhys];
    const levels = ((this.eptp >>> EPTP_WALK_SHIFT) & 7) + 1;
    let table = (this.eptp - (this.eptp % 4096)) % physMask;
    let allowed = EPT_R | EPT_W | EPT_X;
    const touched = this.touched;
    let nTouched = 0;
    for (let level = levels; level >= 1; level--) {
      const shift = 12 + 9 * (level - 1);
      const index = Math.floor(gpa / POW2[shift]) % 512;
      const addr = table + index * 8;
      const lo = mem.read32(addr), hi = mem.read32(addr + 4);
      if (steps) steps.push({ level, entryAddress: addr, lo, hi });
      const rwx = lo & 7;
      if (rwx === 0) return this.fail('violation', 0, level, addr);
      // Misconfigurations (SDM §29.3.3.1): write-only or write+execute without read; reserved bits.
      if ((rwx & (EPT_R | EPT_W)) === EPT_W) return this.fail('misconfig', 0, level, addr);
      if ((hi & 0x000fffff) >>> (this.maxPhys - 32) !== 0) return this.fail('misconfig', 0, level, addr);
      const ps = (lo & EPT_PS) !== 0;
      const leaf = level === 1 || (ps && (level === 2 || level === 3));
      if (level === 4 && (lo & 0xf8) !== 0) return this.fail('misconfig', 0, level, addr); // bits 7:3 reserved in a PML4E
      if (!leaf && (lo & 0x78) !== 0) return this.fail('misconfig', 0, level, addr); // bits 6:3 reserved in non-leaf entries
      if (leaf) {
        const mt = (lo >>> EPT_MT_SHIFT) & 7;
        if (((VALID_MT >>> mt) & 1) === 0) return this.fail('misconfig', 0, level, addr);
        // Large-page frames must be aligned (tables 29-2, 29-4); bit 7 of a PTE is ignored (table 29-6).
        if (level > 1 && (lo & (level === 3 ? 0x3ffff000 : 0x1ff000)) !== 0) return this.fail('misconfig', 0, level, addr);
      }
      allowed &= rwx;
      touched[nTouched++] = addr;
      const frame = (hi & 0x000fffff) * TWO32 + ((lo & 0xfffff000) >>> 0);
      if (leaf) {
        if (((allowed >>> access) & 1) === 0) return this.fail('violation', allowed, level, addr);
        const size = POW2[shift];
        const hpa = frame - (frame % size) + (gpa % size);
        if (peek || steps !== undefined) return hpa;
        let dirty = true;
        if (this.adEnabled) {
          for (let k = 0; k < nTouched; k++) { const a = touched[k]; const v = mem.read32(a); if ((v & EPT_A) === 0) mem.write32(a, v | EPT_A); }
          const v = mem.read32(addr);
          if (access === EPT_WRITE && (v & EPT_D) === 0) mem.write32(addr, v | EPT_D | EPT_A);
          dirty = access === EPT_WRITE || (v & EPT_D) !== 0;
        }
        const gpn = Math.floor(gpa / 4096), k = gpn & 1023;
        this.tag[k] = gpn; this.hpage[k] = hpa - (hpa % 4096); this.perm[k] = allowed | (dirty ? 8 : 0);
        this.lastPerm = this.perm[k];
        return hpa;
      }
      table = frame;
    }
    return this.fail('violation', 0, 0, 0);
  }

  private fail(kind: 'violation' | 'misconfig', allowed: number, level: number, entryAddress: number): number {
    this.fault.kind = kind;
    this.fault.allowed = allowed;
    this.fault.level = level;
    this.fault.entryAddress = entryAddress;
    return -1;
  }
}

/** Build the EPTP value for a 4-level, write-back EPT rooted at `pml4` (SDM §25.6.11). */
export function makeEptp(pml4: number, ad: boolean): number {
  return pml4 + 6 /* WB */ + (3 << EPTP_WALK_SHIFT) + (ad ? EPTP_AD : 0);
}
