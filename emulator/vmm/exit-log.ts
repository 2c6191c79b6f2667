// The record of every VM exit: a bounded log of recent exits and per-reason statistics like `perf kvm stat`.
import { decodeExitQualification } from '../vmx/qualification.js';

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

/** Most exits kept for views and traces (older ones are counted, not kept): a million, about 70 MB when full. */
export const EXIT_LOG_CAPACITY = 1 << 20;
/** The log starts this large and doubles as exits come, up to EXIT_LOG_CAPACITY. */
export const EXIT_LOG_INITIAL = 4096;

const OUTCOMES: readonly ExitOutcome[] = ['resumed', 'injected', 'emulated', 'ended', 'unhandled'];
const OUTCOME_CODE: Record<ExitOutcome, number> = { resumed: 0, injected: 1, emulated: 2, ended: 3, unhandled: 4 };
/** Instruction bytes kept per exit (an x86 instruction has at most 15). */
const MAX_BYTES = 16;

/**
 * The log keeps the recent exits in typed arrays (a ring indexed by (n - 1) mod capacity) and builds
 * ExitEntry objects only when someone asks for them (views, traces, snapshots): logging an exit
 * allocates nothing. Entries given to add() as objects are kept as they are.
 */
export class ExitLog {
  total = 0;
  readonly byReason = new Map<number, ReasonStats>();
  /** Exits kept (at most EXIT_LOG_CAPACITY): numbers total - kept + 1 … total. */
  private kept = 0;
  /** Slots allocated now (EXIT_LOG_INITIAL doubling up to the log's capacity); exit n lives in slot (n - 1) % cap. */
  private cap = 0;
  private reasons!: Int32Array;
  private names!: string[];
  private qualLo!: Uint32Array;
  private qualHi!: Uint32Array;
  private rips!: Float64Array;
  private icounts!: Float64Array;
  private bits!: Uint8Array;
  private outcomes!: Uint8Array;
  private byteLen!: Uint8Array;
  private byteData!: Uint8Array;
  private notes!: Array<string | undefined>;
  /** Entries built (or given to add()) per slot; undefined until asked for. */
  private entries!: Array<ExitEntry | undefined>;
  /** The stats row of the last reason logged (most exits repeat the previous reason). */
  private lastStats: ReasonStats | null = null;
  private lastStatsReason = -1;
  /** Called with each exit as it is logged (the CLI's --trace-exits). */
  onExit: ((e: ExitEntry) => void) | null = null;

  /** `capacity`: the most exits kept (tests use a small one to see the ring wrap). */
  constructor(readonly capacity = EXIT_LOG_CAPACITY) {
    this.allocate(Math.min(EXIT_LOG_INITIAL, capacity));
  }

  /** (Re)allocate `cap` slots, moving the kept exits to their slots in the new ring. */
  private allocate(cap: number): void {
    if (this.cap > 0 && this.kept === this.total && cap > this.cap) { this.grow(cap); return; }
    const old = this.cap > 0 ? { cap: this.cap, reasons: this.reasons, names: this.names, qualLo: this.qualLo, qualHi: this.qualHi, rips: this.rips, icounts: this.icounts, bits: this.bits, outcomes: this.outcomes, byteLen: this.byteLen, byteData: this.byteData, notes: this.notes, entries: this.entries } : null;
    this.cap = cap;
    this.reasons = new Int32Array(cap);
    this.names = new Array<string>(cap).fill('');
    this.qualLo = new Uint32Array(cap);
    this.qualHi = new Uint32Array(cap);
    this.rips = new Float64Array(cap);
    this.icounts = new Float64Array(cap);
    this.bits = new Uint8Array(cap);
    this.outcomes = new Uint8Array(cap);
    this.byteLen = new Uint8Array(cap);
    this.byteData = new Uint8Array(cap * MAX_BYTES);
    this.notes = new Array<string | undefined>(cap).fill(undefined);
    this.entries = new Array<ExitEntry | undefined>(cap).fill(undefined);
    if (old === null) return;
    for (let n = this.total - this.kept + 1; n <= this.total; n++) {
      const a = (n - 1) % old.cap, b = (n - 1) % cap;
      this.reasons[b] = old.reasons[a]; this.names[b] = old.names[a]; this.qualLo[b] = old.qualLo[a]; this.qualHi[b] = old.qualHi[a];
      this.rips[b] = old.rips[a]; this.icounts[b] = old.icounts[a]; this.bits[b] = old.bits[a]; this.outcomes[b] = old.outcomes[a];
      this.byteLen[b] = old.byteLen[a]; this.byteData.set(old.byteData.subarray(a * MAX_BYTES, a * MAX_BYTES + MAX_BYTES), b * MAX_BYTES);
      this.notes[b] = old.notes[a]; this.entries[b] = old.entries[a];
    }
  }

  /**
   * Grow the ring before it ever wrapped: exit n is in slot n - 1 in both sizes, so the typed arrays are copied
   * in bulk and the plain arrays are extended in place.
   */
  private grow(cap: number): void {
    const more = <T extends Int32Array | Uint32Array | Float64Array | Uint8Array>(a: T, n: number): T => {
      const b = new (a.constructor as new (n: number) => T)(n);
      b.set(a);
      return b;
    };
    const from = this.cap;
    this.cap = cap;
    this.reasons = more(this.reasons, cap); this.qualLo = more(this.qualLo, cap); this.qualHi = more(this.qualHi, cap);
    this.rips = more(this.rips, cap); this.icounts = more(this.icounts, cap); this.bits = more(this.bits, cap);
    this.outcomes = more(this.outcomes, cap); this.byteLen = more(this.byteLen, cap); this.byteData = more(this.byteData, cap * MAX_BYTES);
    for (let k = from; k < cap; k++) { this.names.push(''); this.notes.push(undefined); this.entries.push(undefined); }
  }

  /** Number of the oldest exit still kept, null when none. */
  get firstKept(): number | null {
    return this.kept === 0 ? null : this.total - this.kept + 1;
  }

  /**
   * Record an exit. `summary` may be a function: it is decoded on first use (views, traces), not
   * on every exit.
   */
  add(e: Omit<ExitEntry, 'n' | 'summary'> & { summary: string | (() => string) }, instructionsSinceEntry: number): ExitEntry {
    const { summary, ...rest } = e;
    const entry = { n: this.total + 1, ...rest } as ExitEntry;
    if (typeof summary === 'string') entry.summary = summary;
    else {
      let cached: string | undefined;
      Object.defineProperty(entry, 'summary', { enumerable: true, configurable: true, get: () => (cached ??= summary()) });
    }
    const slot = this.push(e.reason, e.name, e.rip, e.bits, e.icount, e.outcome, e.note, instructionsSinceEntry);
    this.entries[slot] = entry;
    if (this.onExit !== null) this.onExit(entry);
    return entry;
  }

  /**
   * Record an exit without building its entry (the hypervisor's per-exit path): the qualification as two 32-bit
   * halves, the instruction bytes from `bytes[0 … byteCount)`. The summary is decoded from the qualification
   * when the entry is first asked for.
   */
  record(
    reason: number, name: string, qualLo: number, qualHi: number, rip: number, bytes: Uint8Array, byteCount: number, bits: 16 | 32 | 64,
    icount: number, outcome: ExitOutcome, note: string | undefined, instructionsSinceEntry: number,
  ): void {
    const slot = this.push(reason, name, rip, bits, icount, outcome, note, instructionsSinceEntry);
    this.qualLo[slot] = qualLo;
    this.qualHi[slot] = qualHi;
    const len = Math.min(byteCount, MAX_BYTES);
    this.byteLen[slot] = len;
    const at = slot * MAX_BYTES;
    for (let k = 0; k < len; k++) this.byteData[at + k] = bytes[k];
    if (this.onExit !== null) this.onExit(this.entryAt(this.total));
  }

  private push(reason: number, name: string, rip: number, bits: 16 | 32 | 64, icount: number, outcome: ExitOutcome, note: string | undefined, instructionsSinceEntry: number): number {
    if (this.kept === this.cap && this.cap < this.capacity) this.allocate(Math.min(this.cap * 2, this.capacity));
    const n = ++this.total;
    if (n > this.high) this.high = n;
    const slot = (n - 1) % this.cap;
    if (this.kept < this.cap) this.kept++;
    this.reasons[slot] = reason;
    this.names[slot] = name;
    this.rips[slot] = rip;
    this.bits[slot] = bits;
    this.icounts[slot] = icount;
    this.outcomes[slot] = OUTCOME_CODE[outcome];
    this.notes[slot] = note;
    this.entries[slot] = undefined;
    let s = this.lastStatsReason === reason ? this.lastStats : this.byReason.get(reason);
    if (s === undefined || s === null) { s = { name, count: 0, instructions: 0 }; this.byReason.set(reason, s); }
    this.lastStats = s;
    this.lastStatsReason = reason;
    s.count++;
    s.instructions += instructionsSinceEntry;
    return slot;
  }

  /** The entry of exit `n` (kept), built on first use. */
  private entryAt(n: number): ExitEntry {
    const slot = (n - 1) % this.cap;
    const have = this.entries[slot];
    if (have !== undefined) return have;
    const reason = this.reasons[slot];
    const lo = this.qualLo[slot], hi = this.qualHi[slot];
    const q = hi === 0 ? BigInt(lo) : (BigInt(hi) << 32n) | BigInt(lo);
    const at = slot * MAX_BYTES;
    const entry = {
      n, reason, name: this.names[slot], qualification: `0x${q.toString(16)}`, rip: this.rips[slot],
      bytes: Array.from(this.byteData.subarray(at, at + this.byteLen[slot])), bits: this.bits[slot] as 16 | 32 | 64,
      icount: this.icounts[slot], outcome: OUTCOMES[this.outcomes[slot]], note: this.notes[slot],
    } as ExitEntry;
    let cached: string | undefined;
    Object.defineProperty(entry, 'summary', {
      enumerable: true, configurable: true, get: () => (cached ??= decodeExitQualification(reason, q)?.summary ?? ''),
    });
    this.entries[slot] = entry;
    return entry;
  }

  /** Append to the note of the most recent exit (e.g. the interrupt injected at the entry after it). */
  annotateLast(text: string): void {
    if (this.kept === 0) return;
    const slot = (this.total - 1) % this.cap;
    const e = this.entries[slot];
    if (e !== undefined) e.note = e.note ? `${e.note}; ${text}` : text;
    else { const note = this.notes[slot]; this.notes[slot] = note ? `${note}; ${text}` : text; }
  }

  /** Exits numbered `from` … `to` that are still kept, oldest first (views page through a long log with this). */
  window(from: number, to: number): ExitEntry[] {
    const first = this.total - this.kept + 1;
    const a = Math.max(first, Math.floor(from)), b = Math.min(this.total, Math.floor(to));
    const out: ExitEntry[] = [];
    for (let n = a; n <= b; n++) out.push(this.entryAt(n));
    return out;
  }

  /** The most recent exits, oldest first. */
  recent(limit = this.kept): ExitEntry[] {
    const count = Math.max(0, Math.min(this.kept, limit));
    const out: ExitEntry[] = new Array<ExitEntry>(count);
    for (let k = 0; k < count; k++) out[k] = this.entryAt(this.total - count + 1 + k);
    return out;
  }

  last(): ExitEntry | undefined {
    return this.kept === 0 ? undefined : this.entryAt(this.total);
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

  /**
   * The log's state for machine snapshots, cheap to take: the exit count, the statistics and the
   * note of the last exit (handlers annotate it after it is logged). The kept exits stay in the
   * ring: restoring into this same log moves it to the saved position (back: later exits no
   * longer count and re-executing logs them again; forward: over exits it recorded). `ring`
   * (the kept entries, for a copy into another log or JSON) is built only when read.
   */
  saveState(): unknown {
    const byReason: Array<[number, ReasonStats]> = [];
    for (const [k, v] of this.byReason) byReason.push([k, { name: v.name, count: v.count, instructions: v.instructions }]);
    const total = this.total, first = this.total - this.kept + 1;
    const state = { total, byReason, lastNote: this.kept > 0 ? this.noteOf(total) : undefined } as Record<string, unknown>;
    let ring: ExitEntry[] | undefined;
    Object.defineProperty(state, 'ring', { enumerable: true, get: () => (ring ??= this.window(first, total)) });
    Object.defineProperty(state, 'owner', { enumerable: false, value: this });
    return state;
  }

  private noteOf(n: number): string | undefined {
    const slot = (n - 1) % this.cap;
    const e = this.entries[slot];
    return e !== undefined ? e.note : this.notes[slot];
  }

  loadState(s: unknown): void {
    const o = s as { owner?: unknown; total: number; byReason: Array<[number, ReasonStats]>; ring?: ExitEntry[]; lastNote?: string };
    if (o.owner === this) { this.moveTo(o.total, o.byReason, o.lastNote); return; }
    this.loadRing(o as { total: number; byReason: Array<[number, ReasonStats]>; ring: ExitEntry[] });
  }

  /** Exits recorded by this log (the highest number logged, also beyond `total` after moving back). */
  private high = 0;

  /**
   * Move the log to a saved position: back (later exits no longer count; their slots are kept
   * for a move forward) or forward over exits this log recorded before moving back. A position
   * beyond what was recorded keeps the count and statistics but no entries.
   */
  private moveTo(total: number, byReason: Array<[number, ReasonStats]>, lastNote: string | undefined): void {
    const first = this.total - this.kept + 1;
    if (total <= Math.max(this.high, this.total)) {
      this.kept = Math.max(0, Math.min(this.cap, total - first + 1));
    } else {
      this.kept = 0;
      this.high = total;
    }
    this.total = total;
    this.byReason.clear();
    for (const [k, v] of byReason) this.byReason.set(k, { ...v });
    this.lastStats = null;
    this.lastStatsReason = -1;
    if (this.kept > 0) {
      const slot = (total - 1) % this.cap;
      this.notes[slot] = lastNote;
      const e = this.entries[slot];
      if (e !== undefined) e.note = lastNote;
    }
  }

  private loadRing(o: { total: number; byReason: Array<[number, ReasonStats]>; ring: ExitEntry[] }): void {
    this.total = o.total;
    this.high = o.total;
    this.byReason.clear();
    for (const [k, v] of o.byReason) this.byReason.set(k, { ...v });
    this.lastStats = null;
    this.lastStatsReason = -1;
    const ring = o.ring.slice(-this.capacity);
    this.kept = 0;
    let cap = Math.min(EXIT_LOG_INITIAL, this.capacity);
    while (cap < ring.length) cap = Math.min(cap * 2, this.capacity);
    this.cap = 0;
    this.allocate(cap);
    this.kept = ring.length;
    for (let k = 0; k < ring.length; k++) {
      const e = ring[k];
      const slot = (o.total - ring.length + k) % this.cap;
      this.reasons[slot] = e.reason;
      this.names[slot] = e.name;
      this.notes[slot] = e.note;
      this.entries[slot] = e;
    }
  }
}
