// Reference disassembly of generated cases with iced-x86, formatted to match the text encode.ts writes.
import { Decoder, DecoderOptions, Formatter, FormatterSyntax, MemorySizeOptions } from 'iced-x86';
import { CODE_ADDR } from './encode.js';

let formatter: Formatter | null = null;

function getFormatter(): Formatter {
  if (formatter) return formatter;
  const f = new Formatter(FormatterSyntax.Nasm);
  f.hexPrefix = '0x';
  f.hexSuffix = '';
  f.uppercaseHex = false;
  f.smallHexNumbersInDecimal = false;
  f.addLeadingZeroToHexNumbers = false;
  f.memorySizeOptions = MemorySizeOptions.Always;
  f.alwaysShowScale = true;
  f.spaceAfterOperandSeparator = false;
  f.signedMemoryDisplacements = true;
  f.showZeroDisplacements = false;
  f.nasmShowSignExtendedImmediateSize = false;
  f.ripRelativeAddresses = false;
  formatter = f;
  return f;
}

/** Decodes the first instruction of `code` at CODE_ADDR in 64-bit mode: its text and its length. */
export function icedDisassemble(code: Uint8Array): { text: string; length: number; invalid: boolean } {
  const d = new Decoder(64, code, DecoderOptions.None);
  d.ip = BigInt(CODE_ADDR);
  const insn = d.decode();
  const out = { text: getFormatter().format(insn), length: insn.length, invalid: insn.isInvalid };
  insn.free();
  d.free();
  return out;
}
