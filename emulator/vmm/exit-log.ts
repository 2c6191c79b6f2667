// The record of every VM exit: a bounded log of recent exits and per-reason statistics like `perf kvm stat`.

/** What the hypervisor did about an exit. */
export type ExitOutcome = 'resumed' | 'injected' | 'emulated' | 'ended' | 'unhandled';

export interface ExitEntry {
  /** Exit number, from 1. */
  n: number;
  reason: number;
  name: string;
  /** Qualification as a 64-bit hex string. */
  qualification: string;
  /** One-line decoded qualification, e.g. "out 0xe9, 1 byte". */
  summary: string;
  /** Guest RIP of the exit. */
  rip: number;
  /** Bytes of the guest instruction (when the exit is caused by one). */
  bytes: number[];
  /** The guest's code size at the exit (16, 32 or 64), for disassembling `bytes`. */
  bits: 16 | 32 | 64;
  /** Instructions retired when the exit happened. */
  icount: number;
  outcome: ExitOutcome;
  /** A note from the handler ("MMIO read of unassigned 0xfec01000 → all ones", "HLT: idle 1000 ns"). */
  note?: string;
}

export interface ReasonStats {
  name: string;
  count: number;
  /** Guest instructions retired in the runs that ended with this exit reason. */
  instructions: number;
}

/** Recent exits kept for views and traces (older ones are counted, not kept). */
export const EXIT_LOG_CAPACITY = 4096;

export class ExitLog {
  total = 0;
  readonly byReason = new Map<number, ReasonStats>();
  private readonly ring: ExitEntry[] = [];
  private head = 0;
  /** Called with each exit as it is logged (the CLI's --trace-exits). */
  onExit: ((e: ExitEntry) => void) | null = null;

  /**
   * Record an exit. `summary` may be a function: it is decoded on first use (views, traces), not
   * on every exit.
   */
  add(e: Omit<ExitEntry, 'n' | 'summary'> & { summary: string | (() => string) }, instructionsSinceEntry: number): ExitEntry {
    const { summary, ...rest } = e;
    const entry = { n: ++this.total, ...rest } as ExitEntry;
    if (typeof summary === 'string') entry.summary = summary;
    else {
      let cached: string | undefined;
      Object.defineProperty(entry, 'summary', { enumerable: true, configurable: true, get: () => (cached ??= summary()) });
    }
    let s = this.byReason.get(e.reason);
    if (s === undefined) { s = { name: e.name, count: 0, instructions: 0 }; this.byReason.set(e.reason, s); }
    s.count++;
    s.instructions += instructionsSinceEntry;
    if (this.ring.length < EXIT_LOG_CAPACITY) this.ring.push(entry);
    else { this.ring[this.head] = entry; this.head = (this.head + 1) % EXIT_LOG_CAPACITY; }
    if (this.onExit !== null) this.onExit(entry);
    return entry;
  }

  /** Append to the note of the most recent exit (e.g. the interrupt injected at the entry after it). */
  annotateLast(text: string): void {
    const e = this.last();
    if (e !== undefined) e.note = e.note ? `${e.note}; ${text}` : text;
  }

  /** The most recent exits, oldest first. */
  recent(limit = EXIT_LOG_CAPACITY): ExitEntry[] {
    const all = this.ring.length < EXIT_LOG_CAPACITY ? this.ring.slice() : [...this.ring.slice(this.head), ...this.ring.slice(0, this.head)];
    return all.slice(Math.max(0, all.length - limit));
  }

  last(): ExitEntry | undefined {
    if (this.ring.length === 0) return undefined;
    return this.ring.length < EXIT_LOG_CAPACITY ? this.ring[this.ring.length - 1] : this.ring[(this.head + EXIT_LOG_CAPACITY - 1) % EXIT_LOG_CAPACITY];
  }

  /** `{"IO_INSTRUCTION": 14, "HLT": 1}` keyed by the SDM/Linux names. */
  countsByName(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const s of [...this.byReason.values()].sort((a, b) => b.count - a.count)) out[s.name] = s.count;
    return out;
  }

  /** A `perf kvm stat`-style table. */
  statsTable(): string {
    const rows = [...this.byReason.values()].sort((a, b) => b.count - a.count);
    const lines = [`${'VM-EXIT'.padEnd(22)} ${'Samples'.padStart(10)} ${'Samples%'.padStart(9)} ${'Guest instr'.padStart(14)} ${'Instr%'.padStart(7)}`];
    const instrTotal = rows.reduce((a, r) => a + r.instructions, 0) || 1;
    for (const r of rows) {
      lines.push(`${r.name.padEnd(22)} ${String(r.count).padStart(10)} ${((100 * r.count) / (this.total || 1)).toFixed(2).padStart(8)}% ${String(r.instructions).padStart(14)} ${((100 * r.instructions) / instrTotal).toFixed(2).padStart(6)}%`);
    }
    lines.push(`Total Samples: ${this.total}`);
    return lines.join('\n');
  }

  saveState(): unknown {
    return { total: this.total, byReason: [...this.byReason.entries()], ring: this.recent() };
  }

  loadState(s: unknown): void {
    const o = s as { total: number; byReason: Array<[number, ReasonStats]>; ring: ExitEntry[] };
    this.total = o.total;
    this.byReason.clear();
    for (const [k, v] of o.byReason) this.byReason.set(k, { ...v });
    this.ring.length = 0;
    this.head = 0;
    for (const e of o.ring) this.ring.push(e);
  }
}
