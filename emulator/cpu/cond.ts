// Condition codes (Jcc, SETcc, CMOVcc) evaluated from the processor's flags (SDM vol. 1 appendix B), for the interpreter and translated blocks.
import type { Cpu } from './cpu.js';

/** Evaluate condition code cc (0..15) per SDM vol. 1 appendix B. */
export function cond(c: Cpu, cc: number): boolean {
  let r: boolean;
  switch (cc >>> 1) {
    case 0: r = c.ofBit() !== 0; break;
    case 1: r = c.cfBit() !== 0; break;
    case 2: r = c.zfBit() !== 0; break;
    case 3: r = c.cfBit() !== 0 || c.zfBit() !== 0; break;
    case 4: r = c.sfBit() !== 0; break;
    case 5: r = c.pfBit() !== 0; break;
    case 6: r = (c.sfBit() !== 0) !== (c.ofBit() !== 0); break;
    default: r = c.zfBit() !== 0 || (c.sfBit() !== 0) !== (c.ofBit() !== 0); break;
  }
  return (cc & 1) !== 0 ? !r : r;
}
