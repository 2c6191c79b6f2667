// Test helpers shared by the view and webview tests: write guest memory, find an EPT entry by walking from the EPTP.
import type { Hypervisor } from '../../emulator/vmm/hypervisor.js';

export function put64(hv: Hypervisor, gpa: number, v: bigint): void {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, BigInt.asUintN(64, v), true);
  hv.guest.poke(gpa, b);
}

/** Host-physical address of the EPT entry for `gpa` at `level`, by walking from the EPTP (SDM vol. 3C §29.3.2), independent of the views. */
export function eptEntry(hv: Hypervisor, gpa: number, level: number): number {
  let table = Number(hv.vmread('EPT_POINTER') & 0x7f_ffff_f000n);
  for (let l = 4; ; l--) {
    const at = table + (Math.floor(gpa / 2 ** (12 + 9 * (l - 1))) % 512) * 8;
    if (l === level) return at;
    const lo = hv.host.read32(at), hi = hv.host.read32(at + 4);
    table = (hi & 0x7f) * 2 ** 32 + ((lo & 0xfffff000) >>> 0);
  }
}
