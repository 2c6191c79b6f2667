// A whole DAP session on hello.elf compared with a golden transcript (ids and seq normalised); VMSCOPE_UPDATE_GOLDEN=1 rewrites it.
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { HELLO, ROOT, ensureAdapter } from './build.js';
import { RawClient, type Message } from './raw-client.js';

const GOLDEN = join(ROOT, 'test', 'dap', 'golden', 'hello-session.jsonl');
let adapter = '';
let c: RawClient;
beforeAll(() => { adapter = ensureAdapter(); });
afterEach(() => c?.close());

/** One line per message: seq/request_seq dropped, paths relative to the repository, consecutive output events merged. */
export function normalise(log: Message[]): string[] {
  const out: Record<string, unknown>[] = [];
  for (const m of log) {
    const { seq: _s, request_seq: _r, ...rest } = m as Record<string, unknown>;
    void _s; void _r;
    const prev = out[out.length - 1];
    const body = rest.body as { category?: string; output?: string } | undefined;
    if (rest.event === 'output' && prev?.event === 'output' && (prev.body as { category: string }).category === body?.category) {
      (prev.body as { output: string }).output += body?.output ?? '';
      continue;
    }
    out.push(JSON.parse(JSON.stringify(rest)) as Record<string, unknown>);
  }
  return out.map((m) => JSON.stringify(m).split(ROOT).join('<root>'));
}

describe('golden transcript', () => {
  it('matches test/dap/golden/hello-session.jsonl', async () => {
    c = RawClient.spawn(adapter);
    const run = async (command: string, args: unknown, until?: string) => {
      const ev = until !== undefined ? c.event(until) : null;
      const r = await c.request(command, args);
      expect(r.success, `${command}: ${r.message}`).toBe(true);
      if (ev !== null) await ev;
      return r;
    };
    const path = join(ROOT, 'samples', 'hello', 'hello.asm');
    await run('initialize', { adapterID: 'vmscope', clientID: 'golden', linesStartAt1: true, columnsStartAt1: true, pathFormat: 'path' });
    await run('launch', { type: 'vmscope', request: 'launch', name: 'hello', program: HELLO, stopOnEntry: true }, 'initialized');
    await run('setBreakpoints', { source: { path }, breakpoints: [{ line: 20 }, { line: 3 }] });
    await run('setExceptionBreakpoints', { filters: [], filterOptions: [{ filterId: 'vmexit.IO_INSTRUCTION', condition: 'value == 0x6f' }] });
    await run('configurationDone', undefined, 'stopped');
    await run('threads', undefined);
    await run('stackTrace', { threadId: 1 });
    await run('continue', { threadId: 1 }, 'stopped'); // the line-20 breakpoint (mov al, 'o')
    await run('stackTrace', { threadId: 1 });
    await run('continue', { threadId: 1 }, 'stopped'); // the OUT of 'o': the VM-exit filter
    await run('stackTrace', { threadId: 1 });
    await run('exceptionInfo', { threadId: 1 });
    const sc = await run('scopes', { frameId: 1 });
    await run('variables', { variablesReference: sc.body.scopes[1].variablesReference });
    await run('evaluate', { expression: 'al', context: 'watch' });
    await run('evaluate', { expression: 'exits 3', context: 'repl' });
    await run('disassemble', { memoryReference: '0x100012', instructionOffset: -1, instructionCount: 3 });
    await run('next', { threadId: 1 }, 'stopped');
    await run('stackTrace', { threadId: 1, levels: 1 });
    await run('setExceptionBreakpoints', { filters: [] });
    await run('setBreakpoints', { source: { path }, breakpoints: [] });
    await run('continue', { threadId: 1 }, 'terminated');
    await run('disconnect', {});
    const lines = normalise(c.log);
    if (process.env.VMSCOPE_UPDATE_GOLDEN === '1' || !existsSync(GOLDEN)) {
      mkdirSync(join(ROOT, 'test', 'dap', 'golden'), { recursive: true });
      writeFileSync(GOLDEN, lines.join('\n') + '\n');
    }
    expect(lines).toEqual(readFileSync(GOLDEN, 'utf8').trimEnd().split('\n'));
  });
});
