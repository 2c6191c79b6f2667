// Debug-adapter benchmarks (issue 5): `next` latency, continue to a far VM-exit breakpoint with 1 000 breakpoints set, and reading the whole VMCS through scopes/variables.
import { PassThrough } from 'node:stream';
import { join } from 'node:path';
import { createSession } from '../debug-adapter/session.js';
import { nodeHost } from '../debug-adapter/node-host.js';
import { RawClient, type Message } from '../test/dap/raw-client.js';

export interface DapFigures {
  nextMs: { median: number; p99: number };
  farExitMs: { none: number; thousandBreakpoints: number };
  /** The median of 1000bps / none over pairs of runs made back to back, in alternating order (a ratio of medians drifts with the machine's load). */
  breakpointRatio: number;
  vmcsVariablesMs: number;
  vmcsVariables: number;
}

function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
}

/** An inline session (as the extension runs it) over a stream pair, initialized and launched, stopped at entry. */
async function session(program: string, filters: string[] = []): Promise<RawClient> {
  const toAdapter = new PassThrough(), fromAdapter = new PassThrough();
  const s = createSession(nodeHost());
  s.setRunAsServer(true); // as in the extension host: disconnect must not end the process
  s.start(toAdapter, fromAdapter);
  const c = new RawClient(fromAdapter, toAdapter);
  await c.request('initialize', { adapterID: 'vmscope', linesStartAt1: true, columnsStartAt1: true });
  const ready = c.event('initialized');
  const r = await c.request('launch', { program, format: 'flat', cpuMode: 'long', stopOnEntry: true });
  if (!r.success) throw new Error(`launch failed: ${r.message}`);
  await ready;
  await c.request('setExceptionBreakpoints', { filters });
  const stopped = c.event('stopped');
  await c.request('configurationDone');
  await stopped;
  return c;
}

async function end(c: RawClient): Promise<void> {
  await c.request('disconnect');
}

/** `next` at instruction granularity: request sent → `stopped` event received. */
async function nextLatency(root: string, steps: number): Promise<DapFigures['nextMs']> {
  const c = await session(join(root, 'bench', 'guests', 'integer.bin'));
  const ms: number[] = [];
  for (let k = 0; k < steps; k++) {
    const t0 = performance.now();
    const stopped = c.event('stopped');
    await c.request('next', { threadId: 1, granularity: 'instruction' });
    await stopped;
    ms.push(performance.now() - t0);
  }
  await end(c);
  return { median: quantile(ms, 0.5), p99: quantile(ms, 0.99) };
}

/** Continue from entry to the CPUID exit 100 million instructions away (bench/guests/far-exit.asm), with `n` instruction breakpoints that never hit. */
async function farExit(root: string, n: number): Promise<number> {
  const c = await session(join(root, 'bench', 'guests', 'far-exit.bin'), ['vmexit.CPUID']);
  // Addresses in guest RAM the guest never executes: each is checked at every instruction fetch.
  const breakpoints = Array.from({ length: n }, (_, k) => ({ instructionReference: `0x${(0x200000 + k * 16).toString(16)}` }));
  const set = await c.request('setInstructionBreakpoints', { breakpoints });
  if (!set.success) throw new Error(`setInstructionBreakpoints: ${set.message}`);
  const t0 = performance.now();
  const stopped = c.event('stopped');
  await c.request('continue', { threadId: 1 });
  const ev = (await stopped) as Message & { body: { reason: string; description?: string } };
  const ms = performance.now() - t0;
  if (ev.body.reason !== 'exception' || !/CPUID/.test(ev.body.description ?? '')) throw new Error(`far exit: stopped for ${ev.body.reason} ${ev.body.description ?? ''}`);
  await end(c);
  return ms;
}

/** stackTrace + scopes + variables of every VMCS group and field, at a VM exit. */
async function vmcsVariables(root: string): Promise<{ ms: number; count: number }> {
  const c = await session(join(root, 'bench', 'guests', 'far-exit.bin'), ['vmexit.CPUID']);
  const stopped = c.event('stopped');
  await c.request('continue', { threadId: 1 });
  await stopped;
  const t0 = performance.now();
  const st = await c.request('stackTrace', { threadId: 1 });
  const frameId = (st.body as { stackFrames: { id: number }[] }).stackFrames[0].id;
  const sc = await c.request('scopes', { frameId });
  const vmcs = (sc.body as { scopes: { name: string; variablesReference: number }[] }).scopes.find((s) => s.name === 'VMCS');
  if (vmcs === undefined) throw new Error('no VMCS scope at a VM exit');
  let count = 0;
  const walk = async (ref: number, depth: number): Promise<void> => {
    const v = await c.request('variables', { variablesReference: ref });
    for (const x of (v.body as { variables: { variablesReference: number }[] }).variables) {
      count++;
      if (x.variablesReference > 0 && depth < 2) await walk(x.variablesReference, depth + 1);
    }
  };
  await walk(vmcs.variablesReference, 0);
  const ms = performance.now() - t0;
  await end(c);
  return { ms, count };
}

export async function dapBenchmarks(root: string, runs: number, median: (xs: number[]) => number): Promise<DapFigures> {
  const nextMs = await nextLatency(root, 200);
  const none: number[] = [], many: number[] = [], ratios: number[] = [], vm: number[] = [];
  let count = 0;
  // Pairs made back to back, in turn none-first and 1000-first, so that whatever running second does to a run is not in
  // every ratio; twice the pairs of the other figures, since single runs move with the machine's load (one round of
  // this group gave ratios from 0.74 to 1.38, and medians of five fixed-order pairs 0.955 to 1.094 across full runs).
  for (let k = 0; k <= 2 * runs; k++) {
    let a: number, b: number;
    if (k % 2 === 0) { a = await farExit(root, 0); b = await farExit(root, 1000); }
    else { b = await farExit(root, 1000); a = await farExit(root, 0); }
    const v = await vmcsVariables(root);
    count = v.count;
    if (k > 0) { none.push(a); many.push(b); ratios.push(b / a); vm.push(v.ms); }
  }
  process.stderr.write(`bench:   far exit ms, none: ${none.map((x) => x.toFixed(0)).join(' ')}; 1000: ${many.map((x) => x.toFixed(0)).join(' ')}\n`);
  process.stderr.write(`bench:   breakpoint ratios (1000 / none): ${ratios.map((r) => r.toFixed(3)).join(' ')}\n`);
  return {
    nextMs, farExitMs: { none: median(none), thousandBreakpoints: median(many) }, breakpointRatio: median(ratios),
    vmcsVariablesMs: median(vm), vmcsVariables: count,
  };
}
