// Seeded request fuzzing of an inline session: hundreds of requests with wrong, missing, huge and odd arguments (and some good ones that move the guest) must each get one response, none an "internal error", and the session keeps serving.
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type Server, type Socket, connect } from 'node:net';
import { createSession } from '../../debug-adapter/session.js';
import { nodeHost } from '../../debug-adapter/node-host.js';
import { CUSTOM_REQUESTS } from '../../debug-adapter/protocol.js';
import { HELLO, buildGuest } from './build.js';
import { RawClient } from './raw-client.js';
import { prng } from '../prng.js';

let server: Server | null = null;
let socket: Socket | null = null;
let probe = '';
beforeAll(() => { probe = buildGuest('probe'); });
afterEach(() => {
  socket?.destroy();
  socket = null;
  server?.close();
  server = null;
});

/** A client connected to a session served in this process (server mode: nothing ends the process). */
function inlineClient(): Promise<RawClient> {
  return new Promise((resolve) => {
    server = createServer((s) => {
      s.setNoDelay(true);
      const session = createSession(nodeHost());
      session.setRunAsServer(true);
      session.start(s, s);
    }).listen(0, '127.0.0.1', () => {
      socket = connect((server!.address() as { port: number }).port, '127.0.0.1', () => resolve(new RawClient(socket!, socket!)));
      socket.setNoDelay(true);
    });
  });
}

/** Requests the fuzzer sends (disconnect and terminate only at the end). */
const COMMANDS = [
  'threads', 'stackTrace', 'scopes', 'variables', 'setVariable', 'evaluate', 'readMemory', 'writeMemory', 'disassemble',
  'setBreakpoints', 'setFunctionBreakpoints', 'setInstructionBreakpoints', 'setExceptionBreakpoints', 'dataBreakpointInfo',
  'setDataBreakpoints', 'continue', 'pause', 'next', 'stepIn', 'stepOut', 'stepBack', 'reverseContinue', 'gotoTargets', 'goto',
  'exceptionInfo', 'restart', 'configurationDone', 'launch', 'attach', 'initialize', 'source', 'completions', 'frobnicate',
  ...Object.values(CUSTOM_REQUESTS),
];

/** Argument names of those requests (DAP specification and vmscope's custom requests), mixed into any request. */
const FIELDS = [
  'threadId', 'frameId', 'variablesReference', 'name', 'value', 'expression', 'context', 'memoryReference', 'offset', 'count',
  'data', 'instructionCount', 'instructionOffset', 'resolveSymbols', 'source', 'breakpoints', 'lines', 'filters',
  'filterOptions', 'granularity', 'targetId', 'line', 'column', 'index', 'dataId', 'accessType', 'condition', 'hitCondition',
  'logMessage', 'format', 'startFrame', 'levels', 'filter', 'start', 'program', 'stopOnEntry', 'instructionReference',
  'exceptionOptions', 'singleThread', 'allowPartial', 'level', 'gpa', 'gva', 'reason', 'field', 'table', 'access',
];

const ODD: unknown[] = [
  null, 0, -1, 1, 2, 7, 4096, 0x7fffffff, 2 ** 32, 2 ** 53, -(2 ** 53), 1.5, -0.5, 1e308, '', 'x', '0x100000', '0xc0000000',
  '0xffffffffffffffff', '-1', '1e3', 'main', '_start', 'rax', 'rip', '$rax', 'rax + 1', '1 +', '((((', 'AAAA', '!!!',
  'vmexit.CPUID', 'vmexit.HLT', 'instruction', 'line', 'statement', 'repl', 'watch', 'hover', true, false, [], [1, 2], [null],
  {}, { path: 'hello.asm' }, { path: 12 }, { line: 'twelve' }, [{ line: 3 }, { line: -5 }, { line: 1e9 }],
  [{ instructionReference: '0x100000' }, { instructionReference: 'zz' }], [{ filterId: 'vmexit.CPUID', condition: 'leaf ==' }],
  'y'.repeat(5000), { deep: { deeper: { deepest: [1, { x: null }] } } },
];

/** Arguments that move a stopped guest or look at it (so that the odd ones meet running, stopped and ended states). */
const GOOD: Array<[string, Record<string, unknown>]> = [
  ['next', { threadId: 1 }], ['next', { threadId: 1, granularity: 'instruction' }], ['stepIn', { threadId: 1 }],
  ['stepBack', { threadId: 1 }], ['continue', { threadId: 1 }], ['pause', { threadId: 1 }], ['reverseContinue', { threadId: 1 }],
  ['stackTrace', { threadId: 1 }], ['scopes', { frameId: 1 }], ['variables', { variablesReference: 1 }],
  ['readMemory', { memoryReference: '0x100000', count: 64 }], ['disassemble', { memoryReference: '0x100000', instructionCount: 8 }],
  ['evaluate', { expression: 'rax + 1', context: 'repl' }], ['setInstructionBreakpoints', { breakpoints: [{ instructionReference: '0x100005' }] }],
  ['setExceptionBreakpoints', { filters: ['vmexit.IO_INSTRUCTION'] }], ['setExceptionBreakpoints', { filters: [] }],
  [CUSTOM_REQUESTS.exits, {}], [CUSTOM_REQUESTS.vmcs, {}], [CUSTOM_REQUESTS.ept, {}], [CUSTOM_REQUESTS.history, {}],
  [CUSTOM_REQUESTS.stepToExit, { threadId: 1 }], [CUSTOM_REQUESTS.gotoExit, { index: 1 }], ['restart', {}],
];

/** Each request's own arguments (DAP specification; debug-adapter/protocol.ts for vmscope's), most of what it is sent. */
const RUN = ['threadId', 'granularity', 'singleThread'];
const OWN: Record<string, string[]> = {
  stackTrace: ['threadId', 'startFrame', 'levels', 'format'], scopes: ['frameId'], variables: ['variablesReference', 'filter', 'start', 'count', 'format'],
  setVariable: ['variablesReference', 'name', 'value', 'format'], evaluate: ['expression', 'frameId', 'context', 'format'],
  readMemory: ['memoryReference', 'offset', 'count'], writeMemory: ['memoryReference', 'offset', 'allowPartial', 'data'],
  disassemble: ['memoryReference', 'offset', 'instructionOffset', 'instructionCount', 'resolveSymbols'],
  setBreakpoints: ['source', 'breakpoints', 'lines'], setFunctionBreakpoints: ['breakpoints'], setInstructionBreakpoints: ['breakpoints'],
  setExceptionBreakpoints: ['filters', 'filterOptions', 'exceptionOptions'], dataBreakpointInfo: ['variablesReference', 'name', 'frameId'],
  setDataBreakpoints: ['breakpoints'], continue: RUN, pause: RUN, next: RUN, stepIn: RUN, stepOut: RUN, stepBack: RUN, reverseContinue: RUN,
  gotoTargets: ['source', 'line', 'column'], goto: ['threadId', 'targetId'], exceptionInfo: ['threadId'], launch: ['program', 'stopOnEntry', 'memoryMiB', 'cpuMode'],
  [CUSTOM_REQUESTS.vmcs]: ['field'], [CUSTOM_REQUESTS.ept]: ['gpa', 'access', 'table', 'level'], [CUSTOM_REQUESTS.pageWalk]: ['gva', 'access'],
  [CUSTOM_REQUESTS.exits]: ['start', 'count'], [CUSTOM_REQUESTS.gotoExit]: ['index'], [CUSTOM_REQUESTS.stepToExit]: ['threadId'],
};

function oddArguments(rand: () => number, command: string): unknown {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)];
  if (rand() < 0.05) return pick(ODD); // not an object at all
  const a: Record<string, unknown> = {}, own = OWN[command] ?? [];
  const n = Math.floor(rand() * 5);
  for (let k = 0; k < n; k++) a[own.length > 0 && rand() < 0.8 ? pick(own) : pick(FIELDS)] = pick(ODD);
  return a;
}

/** One seeded session: a launch of `program`, `count` requests, then disconnect. */
async function fuzz(seed: number, program: string, count: number): Promise<void> {
  const rand = prng(seed);
  const c = await inlineClient();
  expect((await c.request('initialize', { adapterID: 'vmscope' })).success).toBe(true);
  const ready = c.event('initialized');
  expect((await c.request('launch', { program, stopOnEntry: true })).success).toBe(true);
  await ready;
  expect((await c.request('configurationDone')).success).toBe(true);
  const failures: string[] = [];
  for (let k = 0; k < count; k++) {
    const good = rand() < 0.3;
    const odd = good ? '' : COMMANDS[Math.floor(rand() * COMMANDS.length)];
    const [command, args] = good ? GOOD[Math.floor(rand() * GOOD.length)] : [odd, oddArguments(rand, odd)];
    const r = await c.request(command, args);
    // A host bug (TypeError, RangeError, ...) is answered as "internal error: …" (session.ts): none may be.
    if (!r.success && /^internal error/.test(r.message ?? '')) failures.push(`#${k} ${command} ${JSON.stringify(args)?.slice(0, 200)}: ${r.message}`);
    // Let a run that a request started go on a little, so that later requests meet it running or ended.
    if (good && rand() < 0.2) await new Promise((resolve) => setTimeout(resolve, 5));
  }
  expect(failures).toEqual([]);
  // Still serving: the thread list answers, and disconnect ends the session cleanly.
  expect((await c.request('threads')).success).toBe(true);
  expect((await c.request('disconnect')).success).toBe(true);
}

describe('request fuzzing (seeded)', () => {
  for (const seed of [1, 2, 3]) {
    it(`hello.elf, seed ${seed}: 400 requests, each answered, no internal error`, () => fuzz(seed, HELLO, 400));
  }
  it('probe.elf, seed 4: 400 requests, each answered, no internal error', () => fuzz(4, probe, 400));
});
