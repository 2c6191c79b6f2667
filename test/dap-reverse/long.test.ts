// Long reverse operations over DAP: run in slices (other requests answered meanwhile), pause stops them, progress events; logpoints silent while scanning.
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DebugClient } from '@vscode/debugadapter-testsupport';
import type { DebugProtocol } from '@vscode/debugprotocol';
import { ensureAdapter } from '../dap/build.js';
import { ROOT } from '../history/guests.js';
import type { HistoryResponseBody } from '../../debug-adapter/protocol.js';

let adapter = '';
let longLoop = '';
let dc: DebugClient;
const events: DebugProtocol.Event[] = [];

beforeAll(() => {
  adapter = ensureAdapter();
  // The integer bench loop made as long as it gets (its count is the imm32 of its first instruction, mov ecx).
  const bytes = new Uint8Array(readFileSync(join(ROOT, 'bench', 'guests', 'integer.bin')));
  expect(bytes[0]).toBe(0xb9);
  new DataView(bytes.buffer).setUint32(1, 0xffffffff, true);
  const dir = join(ROOT, 'test', '.tmp', 'dap-reverse');
  mkdirSync(dir, { recursive: true });
  longLoop = join(dir, 'integer-long.bin');
  writeFileSync(longLoop, bytes);
});

afterEach(async () => {
  await dc?.stop().catch(() => undefined);
});

async function start(config: Record<string, unknown>): Promise<void> {
  dc = new DebugClient('node', adapter, 'vmscope');
  dc.defaultTimeout = 30_000;
  events.length = 0;
  for (const e of ['progressStart', 'progressUpdate', 'progressEnd', 'stopped', 'output']) dc.on(e, (ev: DebugProtocol.Event) => events.push(ev));
  await dc.start();
  await dc.initializeRequest({ adapterID: 'vmscope', linesStartAt1: true, columnsStartAt1: true, pathFormat: 'path', supportsProgressReporting: true });
  const initialized = dc.waitForEvent('initialized');
  await dc.launchRequest(config as DebugProtocol.LaunchRequestArguments);
  await initialized;
}

const history = async (): Promise<HistoryResponseBody> => (await dc.customRequest('vmscope/history', {})).body as HistoryResponseBody;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('long reverse operations', () => {
  it('reverse continue over a long history answers other requests while it scans, reports progress, and stops on pause', async () => {
    await start({ program: longLoop, format: 'flat', cpuMode: 'long', maxInstructions: 1e12 });
    // Run forward for a while, then pause: a long history with nothing to stop at.
    const paused = dc.waitForEvent('stopped');
    await dc.configurationDoneRequest();
    await sleep(1500);
    await dc.pauseRequest({ threadId: 1 });
    expect((await paused).body.reason).toBe('pause');
    const h0 = await history();
    expect(h0.currentIcount).toBeGreaterThan(5_000_000);

    // Reverse continue, then pause it once it reports progress: it stops where its scan got to, reason 'pause'.
    const began = dc.waitForEvent('progressStart');
    const stoppedA = dc.waitForEvent('stopped');
    await dc.customRequest('reverseContinue', { threadId: 1 });
    const p = (await began) as DebugProtocol.ProgressStartEvent;
    expect(p.body.title).toBe('Reverse continue');
    expect((await dc.threadsRequest()).body.threads).toHaveLength(1);
    await dc.pauseRequest({ threadId: 1 });
    const a = (await stoppedA) as DebugProtocol.StoppedEvent;
    expect(a.body.reason).toBe('pause');
    const h1 = await history();
    expect(h1.currentIcount).toBeLessThan(h0.currentIcount);
    expect(h1.currentIcount).toBeGreaterThan(h1.oldestIcount);
    expect(events.some((e) => e.event === 'progressEnd' && (e.body as { progressId: string }).progressId === p.body.progressId)).toBe(true);
    expect(events.some((e) => e.event === 'output' && /reverse continue paused at instruction/.test((e.body as { output: string }).output))).toBe(true);

    // Again to the end: nothing to stop at, so the start of history; `threads` is answered many times meanwhile.
    events.length = 0;
    let answered = 0;
    let done = false;
    const stoppedB = dc.waitForEvent('stopped').then((e) => { done = true; return e as DebugProtocol.StoppedEvent; });
    const t0 = Date.now();
    await dc.customRequest('reverseContinue', { threadId: 1 });
    while (!done) {
      await dc.threadsRequest();
      if (!done) answered++;
      await sleep(5);
    }
    const b = await stoppedB;
    const ms = Date.now() - t0;
    expect(b.body.reason).toBe('entry');
    expect(answered).toBeGreaterThan(3);
    const updates = events.filter((e) => e.event === 'progressUpdate').map((e) => (e.body as { percentage: number }).percentage);
    expect(updates.length).toBeGreaterThan(2);
    expect(updates).toEqual([...updates].sort((x, y) => x - y));
    expect((await history()).currentIcount).toBe(h1.oldestIcount);
    console.log(`reverse continue without a match over ${(h1.currentIcount / 1e6).toFixed(1)} M instructions: ${ms} ms, threads answered ${answered} times meanwhile`);
  }, 60_000);

  it('a logpoint prints nothing while reverse continue scans, and prints again when execution passes it again', async () => {
    await start({ program: longLoop, format: 'flat', cpuMode: 'long', maxInstructions: 1e12, stopOnEntry: true });
    const entry = dc.waitForEvent('stopped');
    await dc.configurationDoneRequest();
    await entry;
    // The loop's first instruction (loaded at 0x100000: mov ecx, imm32; xor eax, eax; xor edx, edx; then add eax, ecx at +9).
    const loopAt = 0x100009;
    await dc.customRequest('setInstructionBreakpoints', { breakpoints: [{ instructionReference: `0x${loopAt.toString(16)}`, logMessage: 'tick {rcx}', hitCondition: '<= 3' }] });
    const lines = () => events.filter((e) => e.event === 'output' && /^tick /.test((e.body as { output: string }).output)).map((e) => (e.body as { output: string }).output);
    // Forward a little: the logpoint prints three times and does not stop.
    const stopped = dc.waitForEvent('stopped');
    await dc.continueRequest({ threadId: 1 });
    await sleep(300);
    await dc.pauseRequest({ threadId: 1 });
    expect((await stopped).body.reason).toBe('pause');
    const first = lines();
    expect(first).toHaveLength(3);
    // Back to the start: no stop at the logpoint, nothing printed.
    const back = dc.waitForEvent('stopped');
    await dc.customRequest('reverseContinue', { threadId: 1 });
    expect((await back).body.reason).toBe('entry');
    expect(lines()).toEqual(first);
    // Forward again: the same three lines once more.
    const again = dc.waitForEvent('stopped');
    await dc.continueRequest({ threadId: 1 });
    await sleep(300);
    await dc.pauseRequest({ threadId: 1 });
    await again;
    expect(lines()).toEqual([...first, ...first]);
  }, 60_000);
});
