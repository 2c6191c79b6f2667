// The session run inline (createSession in this process, as the extension will) and the adapter's --server=PORT mode.
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:net';
import { spawn, type ChildProcess } from 'node:child_process';
import { DebugClient } from '@vscode/debugadapter-testsupport';
import type { DebugProtocol } from '@vscode/debugprotocol';
import { createSession } from '../../debug-adapter/session.js';
import { nodeHost } from '../../debug-adapter/node-host.js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { HELLO, ROOT, buildGuest, ensureAdapter, nmSymbols } from './build.js';

let server: Server | null = null;
let child: ChildProcess | null = null;
let dc: DebugClient | null = null;
let adapter = '';
let probe = '';
beforeAll(() => { adapter = ensureAdapter(); probe = buildGuest('probe'); });
afterEach(async () => {
  await dc?.stop().catch(() => undefined);
  dc = null;
  server?.close();
  server = null;
  child?.kill();
  child = null;
});

const traced: string[] = [];

function inlinePort(): Promise<number> {
  return new Promise((resolve) => {
    server = createServer((socket) => {
      const s = createSession(nodeHost({ trace: (line) => traced.push(line) }));
      s.setRunAsServer(true);
      s.start(socket, socket);
    }).listen(0, '127.0.0.1', () => resolve((server!.address() as { port: number }).port));
  });
}

async function runToEnd(d: DebugClient, program: string, extra: Record<string, unknown> = {}): Promise<{ out: string; code: number }> {
  let out = '';
  d.on('output', (e: DebugProtocol.OutputEvent) => { if (e.body.category === 'stdout') out += e.body.output; });
  await d.initializeRequest({ adapterID: 'vmscope' });
  const ready = d.waitForEvent('initialized');
  await d.launchRequest({ program, ...extra } as DebugProtocol.LaunchRequestArguments);
  await ready;
  const exited = d.waitForEvent('exited') as Promise<DebugProtocol.ExitedEvent>;
  await d.configurationDoneRequest();
  const code = (await exited).body.exitCode;
  return { out, code };
}

describe('inline session (createSession)', () => {
  it('runs hello.elf to the end and reports its output and exit', async () => {
    dc = new DebugClient('node', '', 'vmscope');
    await dc.start(await inlinePort());
    const r = await runToEnd(dc, HELLO);
    expect(r).toEqual({ out: 'Hello, world!\n', code: 0 });
  });

  it('runs the virtio sample with its disk image (a devices entry with an object) to its expected output', async () => {
    dc = new DebugClient('node', '', 'vmscope');
    await dc.start(await inlinePort());
    const dir = join(ROOT, 'samples', '11-virtio');
    const r = await runToEnd(dc, '11-virtio.elf', { cwd: dir, devices: ['debugcon', 'debug-exit', 'uart', 'virtio-console', { type: 'virtio-blk', image: 'disk.img', readOnly: true }] });
    expect(r.out).toBe(readFileSync(join(dir, 'expected-output.txt'), 'utf8'));
  });

  it('logpoints print without stopping; goto moves RIP; restart starts a fresh machine with the breakpoints kept', async () => {
    dc = new DebugClient('node', '', 'vmscope');
    await dc.start(await inlinePort());
    const syms = nmSymbols(probe);
    let console = '';
    dc.on('output', (e: DebugProtocol.OutputEvent) => { if (e.body.category === 'console') console += e.body.output; });
    await dc.initializeRequest({ adapterID: 'vmscope' });
    const ready = dc.waitForEvent('initialized');
    await dc.launchRequest({ program: probe, stopOnEntry: true } as DebugProtocol.LaunchRequestArguments);
    await ready;
    const ib = await dc.customRequest('setInstructionBreakpoints', { breakpoints: [{ instructionReference: `0x${syms.get('compute')!.toString(16)}` }] });
    expect(ib.body.breakpoints[0]).toMatchObject({ verified: true, instructionReference: `0x${syms.get('compute')!.toString(16)}` });
    await dc.setFunctionBreakpointsRequest({ breakpoints: [{ name: '_start', condition: 'rip == 0' }] });
    let stop = dc.waitForEvent('stopped') as Promise<DebugProtocol.StoppedEvent>;
    await dc.configurationDoneRequest();
    expect((await stop).body.reason).toBe('entry');
    // Logpoint at compute: the message is printed, the guest goes on to the end.
    await dc.customRequest('setInstructionBreakpoints', { breakpoints: [] });
    const lp = await dc.setBreakpointsRequest({ source: { path: '/x/test/dap/guests/probe.asm' }, breakpoints: [{ line: 30, logMessage: 'compute: rsp={rsp} al={al:d}' }] });
    expect(lp.body.breakpoints[0].verified).toBe(true);
    // Skip the long loop with goto to `mov qword [rel counter], 7` (the line after `jnz spin`).
    const targets = await dc.gotoTargetsRequest({ source: { path: '/x/test/dap/guests/probe.asm' }, line: 20 });
    expect(targets.body.targets.length).toBe(1);
    stop = dc.waitForEvent('stopped') as Promise<DebugProtocol.StoppedEvent>;
    await dc.gotoRequest({ threadId: 1, targetId: targets.body.targets[0].id });
    expect((await stop).body.reason).toBe('goto');
    const st = await dc.stackTraceRequest({ threadId: 1 });
    expect(Number(st.body.stackFrames[0].instructionPointerReference)).toBe(syms.get('spin')! + 5);
    const exited = dc.waitForEvent('exited');
    await dc.continueRequest({ threadId: 1 });
    await exited;
    expect(console).toMatch(/guest halted/);
    expect(console).not.toMatch(/compute: rsp=/); // goto skipped the call
    // Restart: a fresh machine; the logpoint fires this time (the guest reaches compute), and the long loop is paused.
    console = '';
    stop = dc.waitForEvent('stopped') as Promise<DebugProtocol.StoppedEvent>;
    await dc.restartRequest({});
    expect((await stop).body.reason).toBe('entry');
    await dc.continueRequest({ threadId: 1 });
    await new Promise((r) => setTimeout(r, 200));
    expect(console).toMatch(/compute: rsp=0x[0-9a-f]+ al=66/);
    stop = dc.waitForEvent('stopped') as Promise<DebugProtocol.StoppedEvent>;
    await dc.pauseRequest({ threadId: 1 });
    expect((await stop).body.reason).toBe('pause');
    const term = dc.waitForEvent('terminated');
    await dc.terminateRequest({});
    await term;
  });
});

describe('breakpoint conditions, hit counts, stepping over calls', () => {
  it('stops on the 3rd hit, on a register condition, and `next` steps over a CALL', async () => {
    dc = new DebugClient('node', '', 'vmscope');
    await dc.start(await inlinePort());
    const syms = nmSymbols(probe);
    const spins = 4000000000n; // `spins: dq 4000000000` in probe.asm
    await dc.initializeRequest({ adapterID: 'vmscope' });
    const ready = dc.waitForEvent('initialized');
    // cwd: the program path is relative to it.
    await dc.launchRequest({ program: 'probe.elf', cwd: probe.replace(/\/probe\.elf$/, ''), stopOnEntry: true } as DebugProtocol.LaunchRequestArguments);
    await ready;
    let stop = dc.waitForEvent('stopped') as Promise<DebugProtocol.StoppedEvent>;
    await dc.configurationDoneRequest();
    await stop;
    // `next` by line over `call compute` (probe.asm line 12 → 13): compute's body is not entered.
    const src = '/somewhere/test/dap/guests/probe.asm';
    await dc.setBreakpointsRequest({ source: { path: src }, breakpoints: [{ line: 12 }] });
    stop = dc.waitForEvent('stopped') as Promise<DebugProtocol.StoppedEvent>;
    await dc.continueRequest({ threadId: 1 });
    await stop;
    await dc.setBreakpointsRequest({ source: { path: src }, breakpoints: [] });
    stop = dc.waitForEvent('stopped') as Promise<DebugProtocol.StoppedEvent>;
    await dc.nextRequest({ threadId: 1 });
    expect((await stop).body.reason).toBe('step');
    let st = await dc.stackTraceRequest({ threadId: 1 });
    expect(st.body.stackFrames[0]).toMatchObject({ name: '_start+0x12', line: 13 });
    // Hit count: the 3rd time `dec rcx` is reached, RCX has been decremented twice.
    const spin = `0x${syms.get('spin')!.toString(16)}`;
    await dc.customRequest('setInstructionBreakpoints', { breakpoints: [{ instructionReference: spin, hitCondition: '3' }] });
    stop = dc.waitForEvent('stopped') as Promise<DebugProtocol.StoppedEvent>;
    await dc.continueRequest({ threadId: 1 });
    expect((await stop).body.reason).toBe('breakpoint');
    expect(BigInt((await dc.evaluateRequest({ expression: 'rcx', context: 'watch' })).body.result)).toBe(spins - 2n);
    // Condition over a register.
    await dc.customRequest('setInstructionBreakpoints', { breakpoints: [{ instructionReference: spin, condition: `rcx == ${spins - 1000n}` }] });
    stop = dc.waitForEvent('stopped') as Promise<DebugProtocol.StoppedEvent>;
    await dc.continueRequest({ threadId: 1 });
    await stop;
    expect(BigInt((await dc.evaluateRequest({ expression: 'rcx', context: 'watch' })).body.result)).toBe(spins - 1000n);
    st = await dc.stackTraceRequest({ threadId: 1 });
    expect(Number(st.body.stackFrames[0].instructionPointerReference)).toBe(syms.get('spin'));
    // A condition that does not parse is refused when set.
    const bad = await dc.customRequest('setInstructionBreakpoints', { breakpoints: [{ instructionReference: spin, condition: 'rcx ==' }] });
    expect(bad.body.breakpoints[0].verified).toBe(false);
    expect(bad.body.breakpoints[0].message).toMatch(/condition/);
  });
});

describe('client conventions', () => {
  it('answers in 0-based lines when the client asks for them, and traces DAP traffic when `trace` is set', async () => {
    dc = new DebugClient('node', '', 'vmscope');
    await dc.start(await inlinePort());
    await dc.initializeRequest({ adapterID: 'vmscope', linesStartAt1: false, columnsStartAt1: false });
    const ready = dc.waitForEvent('initialized');
    await dc.launchRequest({ program: HELLO, stopOnEntry: true, trace: true } as DebugProtocol.LaunchRequestArguments);
    await ready;
    const bp = await dc.setBreakpointsRequest({ source: { path: HELLO.replace(/elf$/, 'asm') }, breakpoints: [{ line: 13 }] });
    expect(bp.body.breakpoints[0]).toMatchObject({ verified: true, line: 13, instructionReference: '0x100004' }); // hello.asm line 14 (1-based): 0x100004 (objdump)
    const stop = dc.waitForEvent('stopped');
    await dc.configurationDoneRequest();
    await stop;
    const st = await dc.stackTraceRequest({ threadId: 1 });
    expect(st.body.stackFrames[0]).toMatchObject({ line: 11, column: 0 }); // _start is hello.asm line 12 (1-based)
    expect(traced.some((l) => l.startsWith('→ ') && l.includes('"command":"stackTrace"'))).toBe(true);
    expect(traced.some((l) => l.startsWith('← ') && l.includes('"event":"stopped"'))).toBe(true);
  });
});

describe('--server=PORT', () => {
  it('listens on 127.0.0.1 and serves a session per connection', async () => {
    child = spawn('node', [adapter, '--server=0'], { stdio: ['ignore', 'ignore', 'pipe'] });
    const port = await new Promise<number>((resolve, reject) => {
      let err = '';
      child!.stderr!.on('data', (d: Buffer) => {
        err += d.toString();
        const m = /listening on 127\.0\.0\.1:(\d+)/.exec(err);
        if (m) resolve(Number(m[1]));
      });
      child!.on('exit', () => reject(new Error(err)));
    });
    dc = new DebugClient('node', '', 'vmscope');
    await dc.start(port);
    expect(await runToEnd(dc, HELLO)).toEqual({ out: 'Hello, world!\n', code: 0 });
  });
});
