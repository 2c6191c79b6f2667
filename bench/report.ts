// The benchmark's results (the JSON shape of `npm run bench -- --json`), the targets of issue 8, and the human table with a target column and a pass/MISS mark.
import type { DapFigures } from './dap.js';
import type { PeerFigures } from './peers.js';
import type { MemoryFigures } from './memory.js';
import type { HistoryFigures } from './history.js';

/** Groups of benchmarks, in run order; `--only=` takes these names. Each is one top-level key of the JSON. */
export const GROUPS = ['mips', 'exitsPerSecond', 'kvm', 'peers', 'virtio', 'startup', 'dap', 'memory', 'history'] as const;
export type Group = (typeof GROUPS)[number];

export interface Results {
  mips?: { integer: number; memcpy: number; calls: number };
  exitsPerSecond?: { cpuid: number; io: number };
  kvm?: { backend: string | null; exitsPerSecond: { cpuid: number | null; io: number | null } };
  peers?: PeerFigures;
  virtio?: { blk4kIops: number | null; blk64kMiBs: number | null };
  startup?: { helloMs: number };
  /** The issue's stepMs and breakpointOverhead, then the adapter figures the suite had before (nextMs = stepMs). */
  dap?: { stepMs: { p50: number; p99: number }; breakpointOverhead: number } & DapFigures;
  memory?: MemoryFigures;
  /** Time travel (issue 9): reverse step and reverse continue with a long history, and what recording costs. */
  history?: HistoryFigures;
}

/** Every key issue 8 asks for, as a dotted path into Results (a full run has each; null where a peer or KVM is absent). */
export const ISSUE_KEYS = [
  'mips.integer', 'mips.memcpy', 'mips.calls',
  'exitsPerSecond.cpuid', 'exitsPerSecond.io',
  'kvm.exitsPerSecond.cpuid', 'kvm.exitsPerSecond.io',
  'peers.qemuTcg.mips', 'peers.v86.mips', 'peers.bochs.mips',
  'dap.stepMs.p50', 'dap.stepMs.p99', 'dap.breakpointOverhead',
  'virtio.blk4kIops', 'virtio.blk64kMiBs',
  'startup.helloMs',
  'memory.sparse4GiBMiB',
] as const;

/** A target: its text for the table, and whether the figure meets it (null: no figure to judge). */
interface Target {
  text: string;
  ok: boolean | null;
}

const atLeast = (v: number | null | undefined, min: number): boolean | null => (v === null || v === undefined ? null : v >= min);
const atMost = (v: number | null | undefined, max: number): boolean | null => (v === null || v === undefined ? null : v <= max);
const both = (a: boolean | null, b: boolean | null): boolean | null => (a === null ? null : b === null ? a : a && b);
const big = (n: number): string => n.toLocaleString('en-US');

/** Issue 8's targets ("Targets on this 2-core machine"); comparisons with a peer or KVM apply when that figure is in the same run. */
function targets(r: Results): Record<string, Target> {
  const v86 = r.peers?.v86.mips ?? null;
  const kvmCpuid = r.kvm?.exitsPerSecond.cpuid ?? null;
  const kvmIo = r.kvm?.exitsPerSecond.io ?? null;
  return {
    'mips.integer': {
      text: `>= 150, >= v86${v86 === null ? ' (no v86 figure)' : ''}`,
      ok: both(atLeast(r.mips?.integer, 150), v86 === null ? null : atLeast(r.mips?.integer, v86)),
    },
    'peers.vmscope.mips': {
      text: `>= v86 (like for like)${v86 === null ? ' (no v86 figure)' : ''}`,
      ok: v86 === null ? null : atLeast(r.peers?.vmscope.mips, v86),
    },
    'mips.memcpy': { text: '>= 80', ok: atLeast(r.mips?.memcpy, 80) },
    'mips.calls': { text: '>= 80', ok: atLeast(r.mips?.calls, 80) },
    'exitsPerSecond.cpuid': {
      text: `>= ${big(5_000_000)}, >= 10x KVM${kvmCpuid === null ? ' (no KVM figure)' : ''}`,
      ok: both(atLeast(r.exitsPerSecond?.cpuid, 5_000_000), kvmCpuid === null ? null : atLeast(r.exitsPerSecond?.cpuid, 10 * kvmCpuid)),
    },
    'exitsPerSecond.io': {
      text: `>= ${big(3_000_000)}, >= 10x KVM${kvmIo === null ? ' (no KVM figure)' : ''}`,
      ok: both(atLeast(r.exitsPerSecond?.io, 3_000_000), kvmIo === null ? null : atLeast(r.exitsPerSecond?.io, 10 * kvmIo)),
    },
    'virtio.blk4kIops': { text: `>= ${big(50_000)}`, ok: atLeast(r.virtio?.blk4kIops, 50_000) },
    'startup.helloMs': { text: '<= 250', ok: atMost(r.startup?.helloMs, 250) },
    'dap.nextMs.median': { text: '<= 2 (stepMs.p50)', ok: atMost(r.dap?.stepMs.p50, 2) },
    'dap.nextMs.p99': { text: '<= 10 (stepMs.p99)', ok: atMost(r.dap?.stepMs.p99, 10) },
    'dap.breakpointOverhead': { text: '<= 1.05', ok: atMost(r.dap?.breakpointOverhead, 1.05) },
    'memory.sparse4GiBMiB': { text: '<= 150', ok: atMost(r.memory?.sparse4GiBMiB, 150) },
    // Issue 9's speed targets.
    'history.reverseStepMs': { text: '<= 50', ok: atMost(r.history?.reverseStepMs, 50) },
    'history.reverseContinueMs': { text: '<= 200', ok: atMost(r.history?.reverseContinueMs, 200) },
    'history.recordingOverhead': { text: '<= 0.15', ok: atMost(r.history?.recordingOverhead, 0.15) },
  };
}

const fixed = (v: number | null | undefined, digits: number): string => (v === null || v === undefined ? 'null' : v.toFixed(digits));
const ratio = (a: number | undefined, b: number | null | undefined): string => (a === undefined || b === null || b === undefined ? 'n/a' : (a / b).toFixed(3));

/** The rows of the groups that ran: [key, value, note]. */
function rows(r: Results): Array<[string, string, string]> {
  const out: Array<[string, string, string]> = [];
  if (r.mips !== undefined) {
    out.push(['mips.integer', fixed(r.mips.integer, 1), 'long mode, EPT (bench/guests/integer.asm)']);
    out.push(['mips.memcpy', fixed(r.mips.memcpy, 1), '']);
    out.push(['mips.calls', fixed(r.mips.calls, 1), '']);
  }
  if (r.exitsPerSecond !== undefined) {
    out.push(['exitsPerSecond.cpuid', fixed(r.exitsPerSecond.cpuid, 0), '']);
    out.push(['exitsPerSecond.io', fixed(r.exitsPerSecond.io, 0), '']);
  }
  if (r.kvm !== undefined) {
    out.push(['kvm.exitsPerSecond.cpuid', fixed(r.kvm.exitsPerSecond.cpuid, 0), `vmscope/KVM ${ratio(r.exitsPerSecond?.cpuid, r.kvm.exitsPerSecond.cpuid)}`]);
    out.push(['kvm.exitsPerSecond.io', fixed(r.kvm.exitsPerSecond.io, 0), `vmscope/KVM ${ratio(r.exitsPerSecond?.io, r.kvm.exitsPerSecond.io)}`]);
  }
  if (r.peers !== undefined) {
    const p = r.peers;
    out.push(['peers.vmscope.mips', fixed(p.vmscope.mips, 1), `multiboot kernel bench/guests/mb-integer.asm, 32-bit protected mode; ${p.vmscope.note}`]);
    out.push(['peers.qemuTcg.mips', fixed(p.qemuTcg.mips, 1), p.qemuTcg.note]);
    out.push(['peers.v86.mips', fixed(p.v86.mips, 1), p.v86.note]);
    out.push(['peers.bochs.mips', fixed(p.bochs.mips, 1), p.bochs.note]);
  }
  if (r.virtio !== undefined) {
    out.push(['virtio.blk4kIops', fixed(r.virtio.blk4kIops, 0), '']);
    out.push(['virtio.blk64kMiBs', fixed(r.virtio.blk64kMiBs, 1), '']);
  }
  if (r.startup !== undefined) out.push(['startup.helloMs', fixed(r.startup.helloMs, 1), 'vmscope run samples/hello/hello.elf, process start to exit']);
  if (r.dap !== undefined) {
    const d = r.dap;
    out.push(['dap.nextMs.median', fixed(d.nextMs.median, 2), '`next` (instruction) request to `stopped`']);
    out.push(['dap.nextMs.p99', fixed(d.nextMs.p99, 2), '']);
    out.push(['dap.farExitMs.none', fixed(d.farExitMs.none, 1), 'continue to a VM-exit breakpoint 100 M instructions away']);
    out.push(['dap.farExitMs.1000bps', fixed(d.farExitMs.thousandBreakpoints, 1), 'the same with 1000 instruction breakpoints']);
    out.push(['dap.breakpointOverhead', fixed(d.breakpointOverhead, 3), 'median of 1000bps / none over back-to-back pairs']);
    out.push(['dap.vmcsVariablesMs', fixed(d.vmcsVariablesMs, 1), `stackTrace+scopes+variables of ${d.vmcsVariables} VMCS entries`]);
  }
  if (r.memory !== undefined) {
    out.push(['memory.sparse4GiBMiB', fixed(r.memory.sparse4GiBMiB, 1), `max RSS, 4 GiB guest RAM, 16 MiB touched (${r.memory.method})`]);
    out.push(['memory.sparse64MiBMiB', fixed(r.memory.sparse64MiBMiB, 1), 'the same guest with 64 MiB of RAM, for comparison']);
  }
  if (r.history !== undefined) {
    const h = r.history;
    out.push(['history.reverseStepMs', fixed(h.reverseStepMs, 1), `stepBack (instruction) with ${(h.historyInstructions / 1e6).toFixed(0)} M instructions of history (${h.snapshots} snapshots, ${(h.historyBytes / 1048576).toFixed(1)} MiB)`]);
    out.push(['history.reverseContinueMs', fixed(h.reverseContinueMs, 1), 'reverseContinue to the previous VM exit of a filter']);
    out.push(['history.reverseContinueNoMatchMs', fixed(h.reverseContinueNoMatchMs, 0), 'reverseContinue with no match: a scan of the whole history (in slices; pause stops it)']);
    out.push(['history.recordingOverhead', fixed(h.recordingOverhead, 3), 'forward time with history / without - 1']);
  }
  return out;
}

/** The human table: key, value, target, mark (pass / MISS; '-' without a target, 'n/a' without a figure), note. */
export function renderTable(r: Results): string[] {
  const t = targets(r);
  const table = rows(r).map(([key, value, note]) => {
    const target = t[key];
    const mark = target === undefined ? '-' : target.ok === null ? 'n/a' : target.ok ? 'pass' : 'MISS';
    return [key, value, target?.text ?? '', mark, note];
  });
  const w = [0, 1, 2, 3].map((i) => Math.max(...table.map((row) => row[i].length), ['key', 'value', 'target', 'mark'][i].length));
  const line = (row: string[]) => `  ${row[0].padEnd(w[0])}  ${row[1].padStart(w[1])}  ${row[2].padEnd(w[2])}  ${row[3].padEnd(w[3])}  ${row[4]}`.trimEnd();
  return [line(['key', 'value', 'target', 'mark', 'note']), ...table.map(line)];
}

/** The value at a dotted path of the results (undefined when a part is missing). */
export function at(r: unknown, path: string): unknown {
  let v: unknown = r;
  for (const k of path.split('.')) {
    if (typeof v !== 'object' || v === null || !(k in v)) return undefined;
    v = (v as Record<string, unknown>)[k];
  }
  return v;
}
