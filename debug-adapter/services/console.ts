// Evaluate (watch, hover, repl: expressions and console commands) and the custom requests behind the extension's views.
import type { DebugProtocol } from '@vscode/debugprotocol';
import { AdapterError, optInt, optString, reqString } from '../errors.js';
import { memoryReference, parseReference } from '../format.js';
import type { EptAccess } from '../../emulator/debug/views.js';
import type { SessionContext } from '../context.js';
import type { EptResponseBody, ExitsResponseBody, PageWalkResponseBody, VirtioResponseBody, VmcsResponseBody } from '../protocol.js';

const COMMANDS = new Set(['help', 'vmcs', 'ept', 'walk', 'exits', 'virtio']);

export class ConsoleService {
  constructor(private readonly ctx: SessionContext) {}

  evaluate(a: Record<string, unknown>): DebugProtocol.EvaluateResponse['body'] {
    const expression = reqString('evaluate', a, 'expression');
    const context = optString('evaluate', a, 'context') ?? 'repl';
    const t = this.ctx.requireTarget();
    if (this.ctx.running) throw new AdapterError('the guest is running: pause it to evaluate');
    const word = expression.trim().split(/\s+/)[0] ?? '';
    if ((context === 'repl' || context === 'clipboard') && COMMANDS.has(word)) {
      const text = t.consoleCommand(expression);
      if (text !== null) return { result: text, variablesReference: 0 };
    }
    if (expression.length > 4096) throw new AdapterError('expression longer than 4096 characters');
    const r = t.evaluate(expression, this.ctx.stop);
    // A memory reference when the value is an address the guest maps (above the first page).
    const n = r.number;
    const looksLikeAddress = n !== undefined && BigInt.asUintN(64, n) >= 0x1000n && t.debuggee.translate(Number(BigInt.asIntN(64, n))) >= 0;
    return {
      result: r.text,
      ...(r.type !== undefined ? { type: r.type } : {}),
      variablesReference: 0,
      ...(r.number !== undefined && looksLikeAddress ? { memoryReference: memoryReference(Number(BigInt.asIntN(64, r.number))) } : {}),
    };
  }

  vmcs(a: Record<string, unknown>): VmcsResponseBody {
    return this.ctx.requireStopped().vmcsBody(optString('vmscope/vmcs', a, 'field'));
  }

  ept(a: Record<string, unknown>): EptResponseBody {
    const t = this.ctx.requireStopped();
    const table = address('vmscope/ept', a.table);
    const level = optInt('vmscope/ept', a, 'level');
    if (table === undefined && level !== undefined) throw new AdapterError("vmscope/ept: 'level' needs 'table'");
    return t.eptBody(address('vmscope/ept', a.gpa), access('vmscope/ept', a.access), table === undefined ? undefined : { hpa: table, level });
  }

  pageWalk(a: Record<string, unknown>): PageWalkResponseBody {
    const t = this.ctx.requireStopped();
    const gva = address('vmscope/pageWalk', a.gva);
    if (gva === undefined) throw new AdapterError("vmscope/pageWalk: 'gva' is required");
    return t.pageWalkBody(gva, access('vmscope/pageWalk', a.access));
  }

  virtio(): VirtioResponseBody {
    return this.ctx.requireStopped().virtioBody();
  }

  exits(a: Record<string, unknown>): ExitsResponseBody {
    const t = this.ctx.requireStopped();
    return t.exitsBody(optInt('vmscope/exits', a, 'start') ?? 0, optInt('vmscope/exits', a, 'count') ?? 100);
  }
}

function access(cmd: string, v: unknown): EptAccess | undefined {
  if (v === undefined || v === null) return undefined;
  if (v === 'read' || v === 'write' || v === 'fetch') return v;
  throw new AdapterError(`${cmd}: 'access' must be read, write or fetch`);
}

/** An address argument as an unsigned 64-bit value (number, "0x…" or decimal string). */
function address(cmd: string, v: unknown): bigint | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return BigInt(v);
  if (typeof v === 'string') return BigInt.asUintN(64, BigInt(parseReference(v).address));
  throw new AdapterError(`${cmd}: expected an address (number or "0x…")`);
}
