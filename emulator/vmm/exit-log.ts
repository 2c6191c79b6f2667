// The record of every VM exit: a bounded log of recent exits and per-reason statistics like `perf kvm stat`.
import { decodeExitQualification } from '../vmx/qualification.js';
import { exitReasonName } from '../vmx/exit-reasons.js';

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

/** Most exits kept for views and traces (older ones are counted, not kept): a million, about 34 MB when full (32 bytes per exit). */
export const EXIT_LOG_CAPACITY = 1 << 20;
/** The log's storage comes in chunks of this many slots, allocated as exits come (nothing is ever copied to grow). */
export const EXIT_LOG_INITIAL = 4096;

const OUTCOMES: readonly ExitOutcome[] = ['resumed', 'injected', 'emulated', 'ended', 'unhandled'];
/** The code of an outcome (an index into OUTCOMES; a chain of compares: a keyed lookup by string costs more per exit). */
function outcomeCode(o: ExitOutcome): number {
  return o === 'emulated' ? 2 : o === 'resumed' ? 0 : o === 'injected' ? 1 : o === 'ended' ? 3 : 4;
}
/** The META word of a slot (see W_META). */
function meta(bits: 16 | 32 | 64, outcome: ExitOutcome, bytesCode: number): number {
  return (bits === 64 ? 2 : bits === 32 ? 1 : 0) | (outcomeCode(outcome) << 2) | (bytesCode << 8);
}
/** Instruction bytes kept per exit (an x86 instruction has at most 15). */
const MAX_BYTES = 16;
/** Exit reasons counted in the log's typed arrays (the SDM's basic exit reasons, 0 … 79 today, with room). */
const STAT_SLOTS = 128;
/** Whether a reason number has its row in the typed arrays (an integer below STAT_SLOTS; any other number goes to a Map). */
function inStatSlots(reason: number): boolean {
  return Number.isInteger(reason) && reason >= 0 && reason < STAT_SLOTS;
}

/**
 * A note whose text is made when it is first read (an entry built, a view, a snapshot): a chain of parts, each a
 * text, a (format, value) pair or a format with a value and four numbers, joined with "; " in order. An exit that
 * happens often (a virtio QueueNotify) then keeps the data of its note instead of formatting it every time; one small
 * object per part, no arrays.
 */
export class DeferredNote {
  private text: string | null = null;

  private constructor(
    private readonly prev: DeferredNote | null,
    private readonly format: ((v: never, a: number, b: number, c: number, d: number) => string) | null,
    private readonly value: unknown,
    private readonly a = 0,
    private readonly b = 0,
    private readonly c = 0,
    private readonly d = 0,
  ) {}

  /** The part a new part follows: none for no note or an empty one, a text made a part. */
  private static head(prev: NoteText | undefined): DeferredNote | null {
    return prev === undefined || prev === '' ? null : typeof prev === 'string' ? DeferredNote.of(prev) : prev;
  }

  /** A note of `text` alone. */
  static of(text: string): DeferredNote {
    return new DeferredNote(null, null, text);
  }

  /** A note of `format(value)` (made when read; `value` must not change meanwhile), after `prev` when given. */
  static formatted<T>(prev: NoteText | undefined, format: (v: T) => string, value: T): DeferredNote {
    const p = DeferredNote.head(prev);
    return new DeferredNote(p, format as (v: never) => string, value);
  }

  /**
   * A note of `format(value, a, b, c, d)`, after `prev` when given: for a value that lives anyway (a device's name)
   * and small integers, so that the log keeps no object of the exit's but this part. The log keeps notes for as long
   * as their exits (up to a million): a note that kept a device's event object alive (notify, complete) made V8 promote
   * and mark it, about a sixth of a virtio-blk request's host instructions.
   */
  static numbers<T>(prev: NoteText | undefined, format: (v: T, a: number, b: number, c: number, d: number) => string, value: T, a: number, b: number, c: number, d: number): DeferredNote {
    const p = DeferredNote.head(prev);
    return new DeferredNote(p, format as (v: never, a: number, b: number, c: number, d: number) => string, value, a, b, c, d);
  }

  /** This note with `text` appended. */
  then(text: string): DeferredNote {
    return new DeferredNote(this, null, text);
  }

  toString(): string {
    if (this.text === null) {
      // Oldest part first; iteratively (a handler may add many parts to one exit's note).
      const parts: string[] = [];
      let n: DeferredNote | null = this;
      for (; n !== null && n.text === null; n = n.prev) parts.push(n.format === null ? (n.value as string) : n.format(n.value as never, n.a, n.b, n.c, n.d));
      if (n !== null) parts.push(n.text!);
      this.text = parts.reverse().join('; ');
    }
    return this.text;
  }
}

/** A note as the log stores it: its text, or a DeferredNote. */
export type NoteText = string | DeferredNote;

/** `note` with `text` appended ("; " between): a string is joined, a DeferredNote gets one more part (unformatted). */
export function appendNote(note: NoteText | undefined, text: string): NoteText {
  if (note === undefined || note === '') return text;
  return typeof note === 'string' ? `${note}; ${text}` : note.then(text);
}

/** Distinct instruction byte strings a chunk keeps in its table (slot codes 1 … TABLE_MAX); more go to its spill area. */
const TABLE_MAX = 254;
/** Slot code of an exit whose bytes are in the chunk's spill area (a chunk with more distinct instructions than its table holds). */
const SPILLED = 255;
/** Buckets of the table's hash index (open addressing, twice the table). */
const HASH_SIZE = 512;

/** Slot words (Chunk.words, four per slot): the reason, the qualification's two halves, and META. */
const W_REASON = 0, W_QUAL_LO = 1, W_QUAL_HI = 2, W_META = 3;
/** META: the code size (bits 1:0: 0 = 16, 1 = 32, 2 = 64), the outcome (bits 4:2, an index into OUTCOMES), the bytes code (bits 15:8). */
const BITS_CODE: readonly (16 | 32 | 64)[] = [16, 32, 64];

/**
 * The storage of `size` consecutive slots of the ring, in one buffer: per slot two doubles (RIP, instruction count) and
 * four words (reason, qualification, the packed rest), so that logging an exit is a few stores into two arrays; the
 * instruction bytes as a one-byte code per slot into the chunk's table of distinct byte strings (exits repeat a few
 * instructions: a loop's CPUID, a driver's OUT and MMIO accesses). 32 bytes of log per exit. Names, notes and built
 * entries are JS arrays the garbage collector traces, so each is allocated only when a slot first needs it: most exits
 * have the reason's own name, no note and no entry built.
 */
class Chunk {
  /** Per slot: RIP, instruction count. */
  readonly nums: Float64Array;
  /** Per slot: W_REASON, W_QUAL_LO, W_QUAL_HI, W_META. */
  readonly words: Uint32Array;
  private readonly table: Uint8Array;
  private readonly tableLen: Uint8Array;
  private tableCount = 0;
  /** Hash bucket → table entry (-1 empty). */
  private readonly index: Int16Array;
  /** Bytes of spilled slots (MAX_BYTES per slot), allocated on first use. */
  private spill: Uint8Array | null = null;
  private spillLen: Uint8Array | null = null;
  /** Names other than exitReasonName(reason) (entries added with another name), by slot. */
  names: Array<string | undefined> | null = null;
  notes: Array<NoteText | undefined> | null = null;
  /** Entries built (or given to add()) per slot; undefined until asked for. */
  entries: Array<ExitEntry | undefined> | null = null;
  /** The last bytes code given and what it stands for (most exits repeat the instruction of an exit shortly before). */
  private lastCode = 0;
  /** The bytes key of the last keyedBytesCode call that had one (0: none) and its code (see ExitLog.record). */
  private lastKey = 0;
  private lastKeyCode = 0;
  constructor(readonly size: number) {
    const buf = new ArrayBuffer(size * 32 + HASH_SIZE * 2 + TABLE_MAX * (MAX_BYTES + 1));
    this.nums = new Float64Array(buf, 0, size * 2);
    this.words = new Uint32Array(buf, size * 16, size * 4);
    this.index = new Int16Array(buf, size * 32, HASH_SIZE).fill(-1);
    this.table = new Uint8Array(buf, size * 32 + HASH_SIZE * 2, TABLE_MAX * MAX_BYTES);
    this.tableLen = new Uint8Array(buf, size * 32 + HASH_SIZE * 2 + TABLE_MAX * MAX_BYTES, TABLE_MAX);
  }

  reason(i: number): number {
    return this.words[i * 4 + W_REASON] | 0;
  }

  /** Slot i's bytes code (see setBytes). */
  private code(i: number): number {
    return (this.words[i * 4 + W_META] >>> 8) & 0xff;
  }

  /**
   * The code of `bytes[0 … len)` (len ≤ MAX_BYTES) as slot i's instruction bytes: 0 none, 1 … TABLE_MAX an entry of the
   * table (+1), SPILLED when the table is full (the bytes are then kept in the spill area at slot i).
   */
  bytesCode(i: number, bytes: Uint8Array, len: number): number {
    if (len === 0) return 0;
    const table = this.table, tableLen = this.tableLen, last = this.lastCode - 1;
    if (last >= 0 && last < TABLE_MAX && tableLen[last] === len) {
      const at = last * MAX_BYTES;
      let k = 0;
      while (k < len && table[at + k] === bytes[k]) k++;
      if (k === len) return last + 1;
    }
    const code = this.lookup(i, bytes, len);
    this.lastCode = code;
    return code;
  }

  /**
   * bytesCode of bytes the caller names by `key` (not 0): the same key stands for the same bytes, so the code the key
   * got last is the answer without comparing them. A spilled code is per slot: never kept.
   */
  keyedBytesCode(i: number, bytes: Uint8Array, len: number, key: number): number {
    if (key !== 0 && key === this.lastKey) return this.lastKeyCode;
    const code = this.bytesCode(i, bytes, len);
    this.lastKey = code !== SPILLED ? key : 0; this.lastKeyCode = code;
    return code;
  }

  private lookup(i: number, bytes: Uint8Array, len: number): number {
    let h = Math.imul(len, 0x9e3779b1);
    for (let k = 0; k < len; k++) h = Math.imul(h ^ bytes[k], 0x01000193);
    const table = this.table, tableLen = this.tableLen, index = this.index;
    let b = (h >>> 16) & (HASH_SIZE - 1);
    for (;;) {
      const t = index[b];
      if (t < 0) break;
      if (tableLen[t] === len) {
        const at = t * MAX_BYTES;
        let k = 0;
        while (k < len && table[at + k] === bytes[k]) k++;
        if (k === len) return t + 1;
      }
      b = (b + 1) & (HASH_SIZE - 1);
    }
    if (this.tableCount < TABLE_MAX) {
      const t = this.tableCount++;
      table.set(bytes.subarray(0, len), t * MAX_BYTES);
      tableLen[t] = len;
      index[b] = t;
      return t + 1;
    }
    this.spill ??= new Uint8Array(this.size * MAX_BYTES);
    this.spillLen ??= new Uint8Array(this.size);
    this.spill.set(bytes.subarray(0, len), i * MAX_BYTES);
    this.spillLen[i] = len;
    return SPILLED;
  }

  /** Slot i's instruction bytes. */
  bytes(i: number): number[] {
    const code = this.code(i);
    if (code === 0) return [];
    if (code === SPILLED) return Array.from(this.spill!.subarray(i * MAX_BYTES, i * MAX_BYTES + this.spillLen![i]));
    const t = code - 1;
    return Array.from(this.table.subarray(t * MAX_BYTES, t * MAX_BYTES + this.tableLen[t]));
  }

  name(i: number): string {
    const n = this.names?.[i];
    return n !== undefined ? n : exitReasonName(this.reason(i));
  }

  /** Set slot i's name (after its reason). */
  setName(i: number, name: string): void {
    this.names = setSparse(this.names, this.size, i, name !== exitReasonName(this.reason(i)) ? name : undefined);
  }

  /** Slot i's note as text (a DeferredNote is made into its text here, once). */
  note(i: number): string | undefined {
    const n = this.notes?.[i];
    if (n === undefined || typeof n === 'string') return n;
    const text = n.toString();
    this.notes![i] = text;
    return text;
  }

  /** Slot i's note as stored (a DeferredNote stays one). */
  rawNote(i: number): NoteText | undefined {
    return this.notes?.[i];
  }

  setNote(i: number, note: NoteText | undefined): void {
    this.notes = setSparse(this.notes, this.size, i, note);
  }

  entry(i: number): ExitEntry | undefined {
    return this.entries?.[i];
  }

  setEntry(i: number, e: ExitEntry | undefined): void {
    this.entries = setSparse(this.entries, this.size, i, e);
  }
}

/**
 * claim's part for a slot's name, note and built entry (each array allocated only when a slot first needs it): out of
 * line, so that claim stays small enough for V8 to inline into the exit path.
 */
function claimSparse(c: Chunk, i: number, reason: number, name: string | undefined, note: NoteText | undefined): void {
  if (name === undefined) { if (c.names !== null) c.names[i] = undefined; }
  else if (c.names !== null || name !== exitReasonName(reason)) c.setName(i, name);
  if (c.notes !== null || note !== undefined) c.setNote(i, note);
  if (c.entries !== null) c.entries[i] = undefined;
}

/** Store `v` at slot i of an array allocated (with `size` slots) only once something other than undefined is stored. */
function setSparse<T>(a: Array<T | undefined> | null, size: number, i: number, v: T | undefined): Array<T | undefined> | null {
  if (v !== undefined) (a ??= new Array<T | undefined>(size))[i] = v;
  else if (a !== null) a[i] = undefined;
  return a;
}

/**
 * The log keeps the recent exits in typed arrays (a ring of `capacity` slots indexed by (n - 1) mod capacity, stored
 * in chunks of EXIT_LOG_INITIAL slots allocated on first use) and builds ExitEntry objects only when someone asks for
 * them (views, traces, snapshots): logging an exit allocates nothing but a new chunk every EXIT_LOG_INITIAL exits
 * until the ring is full. Entries given to add() as objects are kept as they are.
 */
export class ExitLog {
  total = 0;
  /** Exits kept (at most `capacity`): numbers total - kept + 1 … total. */
  private kept = 0;
  /** Slots per chunk. */
  private readonly chunkSize: number;
  private chunks: Array<Chunk | undefined> = [];
  /** The chunk of the last slot looked up and its first slot (most lookups are for the same chunk). */
  private cur: Chunk;
  private curStart = 0;
  /**
   * Statistics by reason: counts and instructions in typed arrays indexed by the reason (the SDM's basic exit reasons are
   * below STAT_SLOTS), so that counting an exit is two stores; a row's name is the name its first exit was logged with;
   * `statOrder` lists the reasons as first logged (the order of byReason). Other reason numbers go to `statOther`.
   */
  private readonly statCount = new Float64Array(STAT_SLOTS);
  private readonly statInstr = new Float64Array(STAT_SLOTS);
  private readonly statName: Array<string | undefined> = new Array<string | undefined>(STAT_SLOTS).fill(undefined);
  private statOrder: number[] = [];
  private readonly statOther = new Map<number, ReasonStats>();
  /** Called with each exit as it is logged (the CLI's --trace-exits). */
  onExit: ((e: ExitEntry) => void) | null = null;

  /** `capacity`: the most exits kept (tests use a small one to see the ring wrap). */
  constructor(readonly capacity = EXIT_LOG_CAPACITY) {
    this.chunkSize = Math.max(1, Math.min(EXIT_LOG_INITIAL, capacity));
    this.cur = this.chunk(0);
  }

  /** The chunk holding `slot`, allocated on first use (the last chunk only as large as the ring needs). */
  private chunk(slot: number): Chunk {
    const k = Math.floor(slot / this.chunkSize);
    let c = this.chunks[k];
    if (c === undefined) {
      c = new Chunk(Math.min(this.chunkSize, this.capacity - k * this.chunkSize));
      while (this.chunks.length < k) this.chunks.push(undefined);
      this.chunks[k] = c;
    }
    this.cur = c;
    this.curStart = k * this.chunkSize;
    return c;
  }

  /** The chunk of `slot` and the slot's index in it (in `at`). */
  private at = 0;
  private locate(slot: number): Chunk {
    const i = slot - this.curStart;
    if (i >= 0 && i < this.chunkSize) { this.at = i; return this.cur; }
    const c = this.chunk(slot);
    this.at = slot - this.curStart;
    return c;
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
    const c = this.claim(e.reason, e.name, e.rip, e.icount, e.note, instructionsSinceEntry);
    c.words[this.at * 4 + W_META] = meta(e.bits, e.outcome, 0); // the entry keeps the rest (its bytes, qualification)
    c.setEntry(this.at, entry);
    if (this.onExit !== null) this.onExit(entry);
    return entry;
  }

  /**
   * Record an exit without building its entry (the hypervisor's per-exit path): the reason's own name, the
   * qualification as two 32-bit halves, the instruction bytes from `bytes[0 … byteCount)`. The summary is decoded
   * from the qualification when the entry is first asked for. `bytesKey` (0: none) names the bytes' content for a caller
   * that keeps them: the same key always stands for the same bytes (a key may be given again only while its bytes
   * have not changed), which spares comparing them with the chunk's table. One function with no call in the common
   * case: it runs at every exit.
   */
  record(
    reason: number, qualLo: number, qualHi: number, rip: number, bytes: Uint8Array, byteCount: number, bytesKey: number,
    bits: 16 | 32 | 64, icount: number, outcome: ExitOutcome, note: NoteText | undefined, instructionsSinceEntry: number,
  ): void {
    const c = this.claim(reason, undefined, rip, icount, note, instructionsSinceEntry);
    const i = this.at, w = c.words, k = i * 4;
    w[k + W_QUAL_LO] = qualLo;
    w[k + W_QUAL_HI] = qualHi;
    w[k + W_META] = meta(bits, outcome, byteCount === 0 ? 0 : c.keyedBytesCode(i, bytes, byteCount < MAX_BYTES ? byteCount : MAX_BYTES, bytesKey));
    if (this.onExit !== null) this.onExit(this.entryAt(this.total));
  }

  /**
   * Count exit total + 1 and store its reason, RIP, instruction count, name (undefined: the reason's own, as record()
   * gives) and note; returns its chunk (its index in `at`). Names, notes and entries are rare: their arrays are touched
   * only when they exist or get a value.
   */
  private claim(reason: number, name: string | undefined, rip: number, icount: number, note: NoteText | undefined, instructionsSinceEntry: number): Chunk {
    const n = ++this.total;
    if (n > this.high) this.high = n;
    const slot = n <= this.capacity ? n - 1 : (n - 1) % this.capacity;
    if (this.kept < this.capacity) this.kept++;
    let i = slot - this.curStart, c = this.cur;
    if (i < 0 || i >= this.chunkSize) { c = this.chunk(slot); i = slot - this.curStart; }
    this.at = i;
    c.words[i * 4 + W_REASON] = reason;
    c.nums[i * 2] = rip;
    c.nums[i * 2 + 1] = icount;
    if (name !== undefined || note !== undefined || c.names !== null || c.notes !== null || c.entries !== null) claimSparse(c, i, reason, name, note);
    if (reason >= 0 && reason < STAT_SLOTS && this.statName[reason] !== undefined) {
      this.statCount[reason]++;
      this.statInstr[reason] += instructionsSinceEntry;
    } else this.countFirst(reason, name ?? exitReasonName(reason), instructionsSinceEntry);
    return c;
  }

  /** Count an exit of a reason not counted yet in the typed arrays (its row is made, named `name`), or of a number beyond them. */
  private countFirst(reason: number, name: string, instructions: number): void {
    if (inStatSlots(reason)) {
      this.statName[reason] = name;
      this.statOrder.push(reason);
      this.statCount[reason]++;
      this.statInstr[reason] += instructions;
      return;
    }
    let s = this.statOther.get(reason);
    if (s === undefined) { s = { name, count: 0, instructions: 0 }; this.statOther.set(reason, s); this.statOrder.push(reason); }
    s.count++;
    s.instructions += instructions;
  }

  /** Statistics by reason number, in the order the reasons were first logged (a copy: changing it changes nothing). */
  get byReason(): Map<number, ReasonStats> {
    const out = new Map<number, ReasonStats>();
    for (const r of this.statOrder) {
      const o = inStatSlots(r) ? null : this.statOther.get(r);
      if (o === undefined) continue;
      out.set(r, o !== null ? { ...o } : { name: this.statName[r]!, count: this.statCount[r], instructions: this.statInstr[r] });
    }
    return out;
  }

  /** Replace the statistics (snapshots). */
  private setStats(rows: Array<[number, ReasonStats]>): void {
    for (const r of this.statOrder) if (inStatSlots(r)) { this.statName[r] = undefined; this.statCount[r] = 0; this.statInstr[r] = 0; }
    this.statOther.clear();
    this.statOrder = [];
    for (const [r, v] of rows) {
      this.statOrder.push(r);
      if (inStatSlots(r)) { this.statName[r] = v.name; this.statCount[r] = v.count; this.statInstr[r] = v.instructions; }
      else this.statOther.set(r, { ...v });
    }
  }

  /** The entry of exit `n` (kept), built on first use. */
  private entryAt(n: number): ExitEntry {
    const c = this.locate((n - 1) % this.capacity), i = this.at;
    const have = c.entry(i);
    if (have !== undefined) return have;
    const w = c.words, k = i * 4, m = w[k + W_META];
    const reason = w[k + W_REASON] | 0;
    const lo = w[k + W_QUAL_LO], hi = w[k + W_QUAL_HI];
    const q = hi === 0 ? BigInt(lo) : (BigInt(hi) << 32n) | BigInt(lo);
    const entry = {
      n, reason, name: c.name(i), qualification: `0x${q.toString(16)}`, rip: c.nums[i * 2],
      bytes: c.bytes(i), bits: BITS_CODE[m & 3],
      icount: c.nums[i * 2 + 1], outcome: OUTCOMES[(m >>> 2) & 7], note: c.note(i),
    } as ExitEntry;
    let cached: string | undefined;
    Object.defineProperty(entry, 'summary', {
      enumerable: true, configurable: true, get: () => (cached ??= decodeExitQualification(reason, q)?.summary ?? ''),
    });
    c.setEntry(i, entry);
    return entry;
  }

  /** Append to the note of the most recent exit (e.g. the interrupt injected at the entry after it). */
  annotateLast(text: string): void {
    if (this.kept === 0) return;
    const c = this.locate((this.total - 1) % this.capacity), i = this.at;
    const e = c.entry(i);
    if (e !== undefined) e.note = e.note ? `${e.note}; ${text}` : text;
    else c.setNote(i, appendNote(c.rawNote(i), text));
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
    const byReason: Array<[number, ReasonStats]> = [...this.byReason];
    const total = this.total, first = this.total - this.kept + 1;
    const state = { total, byReason, lastNote: this.kept > 0 ? this.noteOf(total) : undefined } as Record<string, unknown>;
    let ring: ExitEntry[] | undefined;
    Object.defineProperty(state, 'ring', { enumerable: true, get: () => (ring ??= this.window(first, total)) });
    Object.defineProperty(state, 'owner', { enumerable: false, value: this });
    return state;
  }

  private noteOf(n: number): string | undefined {
    const c = this.locate((n - 1) % this.capacity), i = this.at;
    const e = c.entry(i);
    return e !== undefined ? e.note : c.note(i);
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
      this.kept = Math.max(0, Math.min(this.capacity, total - first + 1));
    } else {
      this.kept = 0;
      this.high = total;
    }
    this.total = total;
    this.setStats(byReason);
    if (this.kept > 0) {
      const c = this.locate((total - 1) % this.capacity), i = this.at;
      c.setNote(i, lastNote);
      const e = c.entry(i);
      if (e !== undefined) e.note = lastNote;
    }
  }

  private loadRing(o: { total: number; byReason: Array<[number, ReasonStats]>; ring: ExitEntry[] }): void {
    this.total = o.total;
    this.high = o.total;
    this.setStats(o.byReason);
    const ring = o.ring.slice(-this.capacity);
    this.chunks = [];
    this.cur = this.chunk(0);
    this.kept = ring.length;
    for (let k = 0; k < ring.length; k++) {
      const e = ring[k];
      const c = this.locate((o.total - ring.length + k) % this.capacity), i = this.at;
      c.words[i * 4 + W_REASON] = e.reason;
      c.setName(i, e.name);
      c.setNote(i, e.note);
      c.setEntry(i, e);
    }
  }
}
