// Time travel over DAP (stdio, DebugClient): stepBack, reverseContinue, vmscope/gotoExit and vmscope/history on hello.elf and the probe guest.
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { DebugClient } from '@vscode/debugadapter-testsupport';
import type { DebugProtocol } from '@vscode/debugprotocol';
import { HELLO, buildGuest, ensureAdapter, objdumpBytes } from '../dap/build.js';
import { startClient, type SessionOutput } from '../dap/client.js';
import type { ExitsResponseBody, GotoExitResponseBody, HistoryResponseBody, VmcsResponseBody } from '../../debug-adapter/protocol.js';

let adapter = '';
let probe = '';
let dc: DebugClient;
const out: SessionOutput = { stdout: '', console: '' };

beforeAll(() => {
  adapter = ensureAdapter();
  probe = buildGuest('probe');
});

afterEach(async () => {
  await dc?.stop().catch(() => undefined);
});

async function start(config: Record<string, unknown>, filterOptions: DebugProtocol.ExceptionFilterOptions[] = []): Promise<DebugProtocol.StoppedEvent> {
  dc = await startClient(adapter, out);
  const init = await dc.initializeRequest({ adapterID: 'vmscope', linesStartAt1: true, columnsStartAt1: true, pathFormat: 'path' });
  expect(init.body?.supportsStepBack).toBe(true);
  const initialized = dc.waitForEvent('initialized');
  await dc.launchRequest(config as DebugProtocol.LaunchRequestArguments);
  await initialized;
  if (filterOptions.length > 0) await dc.setExceptionBreakpointsRequest({ filters: [], filterOptions });
  const stopped = dc.waitForEvent('stopped') as Promise<DebugProtocol.StoppedEvent>;
  await dc.configurationDoneRequest();
  return stopped;
}

/** Send a request that ends in a `stopped` event; resolves with the event. */
async function stopAfter(req: () => Promise<unknown>): Promise<DebugProtocol.StoppedEvent> {
  const s = dc.waitForEvent('stopped') as Promise<DebugProtocol.StoppedEvent>;
  await req();
  return s;
}

/** The guest frame's RIP and every register of the Registers scope (top level, as the Variables view shows them). */
async function guestState(): Promise<{ rip: number; regs: Record<string, string> }> {
  const st = await dc.stackTraceRequest({ threadId: 1 });
  const guest = st.body.stackFrames.find((f) => f.presentationHint !== 'subtle' && f.instructionPointerReference !== undefined)!;
  const sc = await dc.scopesRequest({ frameId: st.body.stackFrames[0].id });
  const regsScope = sc.body.scopes.find((x) => x.name === 'Registers')!;
  const vars = (await dc.variablesRequest({ variablesReference: regsScope.variablesReference })).body.variables;
  return { rip: Number(guest.instructionPointerReference), regs: Object.fromEntries(vars.map((v) => [v.name, v.value])) };
}

async function exitNumber(): Promise<number> {
  const st = await dc.stackTraceRequest({ threadId: 1 });
  const sc = await dc.scopesRequest({ frameId: st.body.stackFrames[0].id });
  const exit = sc.body.scopes.find((x) => x.name === 'VM exit')!;
  const vars = (await dc.variablesRequest({ variablesReference: exit.variablesReference })).body.variables;
  return Number(vars.find((v) => v.name === 'exit number')!.value);
}

describe('time travel over DAP', () => {
  it('stepBack after instruction steps returns to each earlier RIP and register file, then stops at the start of history', async () => {
    const entry = await start({ program: probe, stopOnEntry: true, historyMiB: 64 });
    expect(entry.body.reason).toBe('entry');
    const seen = [await guestState()];
    for (let k = 0; k < 9; k++) {
      const s = await stopAfter(() => dc.nextRequest({ threadId: 1, granularity: 'instruction' }));
      expect(s.body.reason).toBe('step');
      seen.push(await guestState());
    }
    // Nine steps cross the CPUID and OUT exits, a call and a push: the states differ.
    expect(new Set(seen.map((x) => x.rip)).size).toBeGreaterThan(5);
    for (let k = seen.length - 2; k >= 0; k--) {
      const s = await stopAfter(() => dc.customRequest('stepBack', { threadId: 1, granularity: 'instruction' }));
      expect(s.body.reason).toBe('step');
      expect(await guestState()).toEqual(seen[k]);
    }
    const h = (await dc.customRequest('vmscope/history', {})).body as HistoryResponseBody;
    expect(h).toMatchObject({ oldestIcount: 0, currentIcount: 0, budgetBytes: 64 * 2 ** 20 });
    expect(h.newestIcount).toBeGreaterThan(0);
    expect(h.snapshots).toBeGreaterThanOrEqual(1);
    // Nothing before the entry: reason 'entry', and the debug console says why.
    const first = await stopAfter(() => dc.customRequest('stepBack', { threadId: 1, granularity: 'instruction' }));
    expect(first.body.reason).toBe('entry');
    expect(out.console).toMatch(/nothing earlier in the recorded history/);
    // Forward again: the same states.
    for (let k = 1; k < 4; k++) {
      await stopAfter(() => dc.nextRequest({ threadId: 1, granularity: 'instruction' }));
      expect(await guestState()).toEqual(seen[k]);
    }
  });

  it('reverseContinue stops at the previous VM exit of a filter and at the previous breakpoint; gotoExit lands on an exit; output is not repeated', async () => {
    const ref = objdumpBytes(HELLO);
    const outs = [...ref.keys()].sort((a, b) => a - b).filter((a) => ref.get(a)!.startsWith('e6'));
    expect(outs.length).toBeGreaterThan(3);
    await start({ program: HELLO }, [{ filterId: 'vmexit.IO_INSTRUCTION' }]);
    // Forward: four stops at OUT exits (before their handlers).
    const stops: Array<{ n: number; rip: number }> = [];
    stops.push({ n: await exitNumber(), rip: (await guestState()).rip });
    for (let k = 0; k < 3; k++) {
      const s = await stopAfter(() => dc.continueRequest({ threadId: 1 }));
      expect(s.body.description).toBe('VM exit: IO_INSTRUCTION (30)');
      stops.push({ n: await exitNumber(), rip: (await guestState()).rip });
    }
    expect(stops.map((s) => s.n)).toEqual([1, 2, 3, 4]);
    const log = (await dc.customRequest('vmscope/exits', { count: 10 })).body as ExitsResponseBody;
    expect(log.entries.map((e) => e.n)).toEqual([1, 2, 3]);
    expect(stops.every((s) => outs.includes(s.rip))).toBe(true);
    expect(out.stdout).toBe('Hel');

    // Back to the previous exit of the filter, twice.
    for (const k of [2, 1]) {
      const s = await stopAfter(() => dc.customRequest('reverseContinue', { threadId: 1 }));
      expect(s.body.reason).toBe('exception');
      expect(s.body.description).toBe('VM exit: IO_INSTRUCTION (30)');
      expect(await exitNumber()).toBe(stops[k].n);
      expect((await guestState()).rip).toBe(stops[k].rip);
    }
    // The exit log is the one of that moment: exit 2 pending, one handled.
    const exits = (await dc.customRequest('vmscope/exits', { count: 10 })).body as ExitsResponseBody;
    expect(exits.total).toBe(1);
    expect(exits.pending).toMatchObject({ n: 2 });

    // A breakpoint on the second OUT's instruction: reverse continue from exit 4 stops there (the breakpoint comes before its exit).
    await stopAfter(() => dc.continueRequest({ threadId: 1 }));
    await stopAfter(() => dc.continueRequest({ threadId: 1 }));
    expect(await exitNumber()).toBe(4);
    await dc.setExceptionBreakpointsRequest({ filters: [] });
    await dc.customRequest('setInstructionBreakpoints', { breakpoints: [{ instructionReference: `0x${stops[1].rip.toString(16)}` }] });
    const bp = await stopAfter(() => dc.customRequest('reverseContinue', { threadId: 1 }));
    expect(bp.body.reason).toBe('breakpoint');
    expect((await guestState()).rip).toBe(stops[1].rip);
    await dc.customRequest('setInstructionBreakpoints', { breakpoints: [] });

    // Go to exit 3 of the log: the response has its instruction count and RIP, the stop shows that exit's VMCS exit fields.
    const stopped = dc.waitForEvent('stopped') as Promise<DebugProtocol.StoppedEvent>;
    const e3 = log.entries[2];
    const r = (await dc.customRequest('vmscope/gotoExit', { index: 3 })).body as GotoExitResponseBody;
    expect(r).toEqual({ icount: e3.icount, rip: Number(e3.rip) });
    const g = await stopped;
    expect(g.body.reason).toBe('goto');
    expect((await guestState()).rip).toBe(Number(e3.rip));
    expect(await exitNumber()).toBe(3);
    const vmcs = (await dc.customRequest('vmscope/vmcs', {})).body as VmcsResponseBody;
    const field = (name: string) => vmcs.groups.flatMap((x) => x.fields).find((f) => f.name === name)!;
    expect(Number(field('VM_EXIT_REASON').value)).toBe(e3.reason);
    expect(BigInt(field('EXIT_QUALIFICATION').value)).toBe(BigInt(e3.qualification));
    expect(Number(field('GUEST_RIP').value)).toBe(Number(e3.rip));
    await expect(dc.customRequest('vmscope/gotoExit', { index: 99 })).rejects.toThrow(/has not happened yet/);

    // Run to the end: every byte of output exactly once, however often the run went back over it.
    const exited = dc.waitForEvent('exited') as Promise<DebugProtocol.ExitedEvent>;
    await dc.continueRequest({ threadId: 1 });
    expect((await exited).body.exitCode).toBe(0);
    expect(out.stdout).toBe('Hello, world!\n');
  }, 60_000);

  it('reverseContinue with nothing to stop at goes to the start of history and says so', async () => {
    await start({ program: probe, stopOnEntry: true });
    for (let k = 0; k < 3; k++) await stopAfter(() => dc.nextRequest({ threadId: 1, granularity: 'instruction' }));
    const s = await stopAfter(() => dc.customRequest('reverseContinue', { threadId: 1 }));
    expect(s.body.reason).toBe('entry');
    expect(out.console).toMatch(/reverse continue: no breakpoint, data breakpoint or VM-exit filter would have stopped the run/);
    const h = (await dc.customRequest('vmscope/history', {})).body as HistoryResponseBody;
    expect(h.currentIcount).toBe(h.oldestIcount);
  });
});
