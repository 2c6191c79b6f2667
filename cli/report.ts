// Human-readable reports for the command line: unimplemented instructions with their bytes and mnemonic (iced-x86).
import type { UnimplementedReport } from '../emulator/index.js';

let formatter: ((bytes: number[], bits: number, rip: number) => string) | null | undefined;

/** Disassemble one instruction (nasm syntax) with iced-x86 when it is installed; '' otherwise. */
export function disassemble(bytes: number[], bits: number, rip: number): string {
  mnemonic([], 0); // load the formatter once
  if (!formatter || bytes.length === 0) return '';
  try {
    return formatter(bytes, bits, rip);
  } catch {
    return '';
  }
}

/** Disassemble with iced-x86 when it is installed; the report works without it. */
function mnemonic(bytes: number[], rip: number): string {
  if (formatter === undefined) {
    formatter = null;
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const req = typeof require === 'function' ? require : null;
      const iced = req ? req('iced-x86') : null;
      if (iced) {
        formatter = (b, bits, ip) => {
          const d = new iced.Decoder(bits, new Uint8Array(b), iced.DecoderOptions.None);
          d.ip = BigInt(Math.max(0, ip));
          const ins = d.decode();
          const f = new iced.Formatter(iced.FormatterSyntax.Nasm);
          const s = f.format(ins);
          ins.free(); d.free(); f.free();
          return s;
        };
      }
    } catch {
      formatter = null;
    }
  }
  if (!formatter || bytes.length === 0) return '';
  try {
    return formatter(bytes, 64, rip);
  } catch {
    return '';
  }
}

export function describeUnimplemented(u: UnimplementedReport): string {
  const bytes = u.bytes.map((b) => b.toString(16).padStart(2, '0')).join(' ');
  const m = mnemonic(u.bytes, u.rip);
  return `unimplemented instruction at rip=0x${u.rip.toString(16)}: ${bytes}${m ? ` (${m})` : ''}: ${u.reason}; #UD raised in the guest`;
}
