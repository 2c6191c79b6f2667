// The iced-x86 disassembler behind the `disassemble` request (nasm, intel or gas syntax), given to the session by its host.
import type { DecodedInstruction, Disassembler } from './target.js';

/** The parts of iced-x86's API used here (the package is loaded by the host, so a browser build can bring its own). */
export interface IcedModule {
  Decoder: new (bitness: number, data: Uint8Array, options: number) => {
    ip: bigint; decode(): IcedInstruction; free(): void;
  };
  DecoderOptions: { None: number };
  Formatter: new (syntax: number) => { format(i: IcedInstruction): string; free(): void };
  FormatterSyntax: { Nasm: number; Intel: number; Gas: number };
}

interface IcedInstruction {
  length: number;
  isInvalid: boolean;
  isCallNear: boolean;
  isCallNearIndirect: boolean;
  isCallFar: boolean;
  isCallFarIndirect: boolean;
  isJmpShortOrNear: boolean;
  isJccShortOrNear: boolean;
  nearBranchTarget: bigint;
  free(): void;
}

export function icedDisassembler(iced: IcedModule): Disassembler {
  const formatters = new Map<string, InstanceType<IcedModule['Formatter']>>();
  const formatter = (syntax: 'nasm' | 'intel' | 'gas') => {
    let f = formatters.get(syntax);
    if (f === undefined) {
      f = new iced.Formatter(syntax === 'gas' ? iced.FormatterSyntax.Gas : syntax === 'intel' ? iced.FormatterSyntax.Intel : iced.FormatterSyntax.Nasm);
      formatters.set(syntax, f);
    }
    return f;
  };
  return {
    decode(bytes, ip, bits, syntax): DecodedInstruction | null {
      if (bytes.length === 0) return null;
      const d = new iced.Decoder(bits, bytes, iced.DecoderOptions.None);
      try {
        d.ip = BigInt.asUintN(bits, BigInt(ip));
        const ins = d.decode();
        try {
          if (ins.isInvalid) return null;
          const branch = ins.isCallNear || ins.isJmpShortOrNear || ins.isJccShortOrNear;
          return {
            length: ins.length,
            text: formatter(syntax).format(ins),
            isCall: ins.isCallNear || ins.isCallNearIndirect || ins.isCallFar || ins.isCallFarIndirect,
            ...(branch ? { target: Number(BigInt.asIntN(64, ins.nearBranchTarget)) } : {}),
          };
        } finally {
          ins.free();
        }
      } catch {
        return null;
      } finally {
        d.free();
      }
    },
  };
}
