// The read-only disassembly document of an exit without a source line (scheme vmscope-disasm:): DAP disassemble around a RIP, formatted as text with the RIP's line to select (pure, no vscode).
import type { Requester } from './model/node.js';

/** The URI scheme of the disassembly documents. */
export const DISASM_SCHEME = 'vmscope-disasm';
/** Instructions shown before and after the RIP. */
export const DISASM_CONTEXT = 24;

/** One instruction of a DAP disassemble answer (DebugProtocol.DisassembledInstruction, the fields used here). */
interface Dis {
  address?: unknown;
  instructionBytes?: unknown;
  instruction?: unknown;
  symbol?: unknown;
  location?: { name?: unknown; path?: unknown };
  line?: unknown;
}

export interface DisasmDocument {
  /** The document's text. */
  text: string;
  /** 0-based line of the instruction at the RIP (the one to select and reveal). */
  line: number;
  /** The RIP, normalised (0x…, lower case). */
  rip: string;
}

/** The document's path for a RIP: VS Code titles the editor with it ("disasm @ 0x1234"). */
export function disasmPath(rip: string): string {
  return `/disasm @ ${normRip(rip)}`;
}

/** The RIP a document path names, or null when the path is not one of ours. */
export function ripOfPath(path: string): string | null {
  const m = /^\/?disasm @ (0x[0-9a-f]{1,16})$/.exec(path);
  return m === null ? null : m[1];
}

function normRip(rip: string): string {
  const t = rip.trim();
  if (!/^(0x[0-9a-fA-F]{1,16}|[0-9]{1,20})$/.test(t)) throw new Error(`not an address: ${JSON.stringify(t.slice(0, 40))}`);
  return `0x${BigInt(t).toString(16)}`;
}

/** Text of a field from the adapter, one line, bounded (a guest's bytes or another adapter's answer can be anything). */
function field(v: unknown, max: number): string {
  const s = typeof v === 'string' ? v : typeof v === 'number' ? String(v) : '';
  // eslint-disable-next-line no-control-regex
  const one = s.replace(/[\u0000-\u001f\u007f\u2028\u2029]/g, ' ');
  return one.length > max ? `${one.slice(0, max - 1)}…` : one;
}

/** "flush+0x16" → "flush" (the label a run of instructions sits under). */
function symbolBase(sym: string): string {
  const i = sym.lastIndexOf('+');
  return i > 0 ? sym.slice(0, i) : sym;
}

/**
 * Disassemble `context` instructions before and after `rip` (DAP disassemble with a negative instructionOffset,
 * resolveSymbols) and lay them out: address, bytes, instruction, `; file:line` where the adapter knows the source,
 * a `symbol:` label wherever the symbol changes, `=>` on the RIP's line.
 */
export async function disassemblyAround(req: Requester, rip: string, context = DISASM_CONTEXT, title?: string): Promise<DisasmDocument> {
  const at = normRip(rip);
  const body = (await req.customRequest('disassemble', {
    memoryReference: at, instructionOffset: -context, instructionCount: 2 * context + 1, resolveSymbols: true,
  })) as { instructions?: unknown } | undefined;
  const list: Dis[] = Array.isArray(body?.instructions) ? (body.instructions as unknown[]).filter((x): x is Dis => typeof x === 'object' && x !== null) : [];
  const target = BigInt(at);
  const addr = (d: Dis): bigint | null => {
    const a = field(d.address, 40);
    return /^(0x[0-9a-fA-F]{1,16}|[0-9]{1,20})$/.test(a) ? BigInt(a) : null;
  };
  let hit = list.findIndex((d) => addr(d) === target);
  const lines: string[] = [
    `; vmscope: disassembly around ${at}${title !== undefined ? ` (${field(title, 120)})` : ''}; read-only`,
    hit < 0 ? `; the adapter's answer has no instruction starting at ${at}` : '; "=>" marks the instruction at the RIP; "; file:line" where the address has a source line',
    '',
  ];
  if (list.length === 0) {
    lines.push(`; no instructions: the adapter returned none for ${at}`);
    return { text: lines.join('\n') + '\n', line: 0, rip: at };
  }
  if (hit < 0) hit = Math.max(0, list.findIndex((d) => { const a = addr(d); return a !== null && a > target; }));
  let selected = 0;
  let symbol = '';
  let file = '';
  list.forEach((d, i) => {
    const sym = field(d.symbol, 200);
    if (sym !== '' && symbolBase(sym) !== symbol) {
      symbol = symbolBase(sym);
      lines.push(`${symbol}:`);
    } else if (sym === '' && symbol !== '') {
      symbol = '';
      lines.push('');
    }
    // DAP sends `location` where the source file changes; `line` on each instruction that has one.
    if (d.location !== undefined) file = field(d.location.name, 120) || field(d.location.path, 200).split(/[\\/]/).pop() || '';
    const line = typeof d.line === 'number' && Number.isInteger(d.line) && d.line > 0 ? d.line : null;
    const src = line !== null && file !== '' ? `  ; ${file}:${line}` : '';
    const bytes = field(d.instructionBytes, 48);
    const text = field(d.instruction, 160);
    if (i === hit) selected = lines.length;
    lines.push(`${i === hit ? '=> ' : '   '}${field(d.address, 20).padEnd(18)}  ${bytes.padEnd(32)}  ${text}${src}`);
  });
  return { text: lines.join('\n') + '\n', line: selected, rip: at };
}
