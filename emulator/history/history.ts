// Run history for time travel: periodic snapshots with copy-on-write memory (only pages written since the previous one), a memory budget, restore.
import type { Machine, MachineState } from '../machine.js';
import type { ExitInfo } from '../vmm/api.js';
import { DEFAULT_HISTORY_MIB } from '../config.js';
import { compareMoments, momentOf, sameMoment, unitsBetween, type Moment } from './moment.js';

/**
 * Snapshot spacing in cost units: one unit per guest instruction retired, EXIT_COST per VM exit
 * (a VM exit with its handler costs about as much host time as that many translated instructions,
 * ~1-2 us). Translated code runs at hundreds of MIPS, so re-executing one interval takes a few ms;
 * code the translator leaves to the interpreter (real mode, 16-bit code) runs at ~20 MIPS, up to
 * ~100 ms. A snapshot costs ~0.1-0.3 ms, so recording costs a few per cent of forward speed
 * (bench/history.ts measures both). Units are counts, never wall time, so where snapshots fall is
 * part of the deterministic run.
 */
export const DEFAULT_INTERVAL = 2_000_000;
export const EXIT_COST = 200;
const PAGE = 4096;

export interface HistoryOptions {
  /** Bytes of snapshots kept; the oldest history is dropped first (at least one snapshot stays). */
  budgetBytes?: number;
  /** Cost units between periodic snapshots. */
  interval?: number;
}

/**
 * A debugger stop pending at a moment (not part of the machine's own state, so captureState
 * does not hold it): the VM exit the hypervisor stopped at (either stage), and a data
 * breakpoint hit by the instruction just before the moment (the processor reports it when it
 * runs again). Restoring a snapshot puts it back, so the moment behaves as it did.
 */
interface PendingStop {
  exit: { info: ExitInfo; stage: 'before' | 'after'; n: number } | null;
  watchHit: { id: number; address: number; size: number; write: boolean } | null;
}

/** One snapshot: the machine's state without memory, and the pages that changed since the previous snapshot. */
interface Snap {
  id: number;
  moment: Moment;
  state: MachineState;
  pending: PendingStop;
  /** The debugger's own state at this moment (History.tagger: e.g. breakpoint hit counts), or undefined. */
  tag: unknown;
  /** Pages whose version this snapshot holds (for the oldest: every allocated page). */
  pages: number[];
  /** Estimated bytes of `state`. */
  stateBytes: number;
}

/** Versions of one page: snapshot ids ascending, with the page's contents as of each (null: all zeros). */
interface PageVersions {
  ids: number[];
  data: (Uint8Array | null)[];
}

export interface HistoryInfo {
  /** The oldest moment that can be gone back to. */
  oldest: Moment;
  current: Moment;
  /** The furthest moment this timeline has reached (going forward again re-executes up to it). */
  newest: Moment;
  /** Bytes the history holds (page versions and machine states), and the budget. */
  bytes: number;
  budgetBytes: number;
  snapshots: number;
}

/**
 * The history of one machine's run. The owner (the debuggee) calls sliceLimit() before and
 * afterSlice() after every slice it runs forward, diverged() when a debugger changes the
 * machine's state, and restoreBefore() + re-execution to go back.
 *
 * Memory is copy-on-write at snapshot granularity: PhysicalMemory marks each page on its first
 * write after a snapshot (every write path, including the processor's TLB write pages and the
 * VMCS view, which are handed out only through writablePage and dropped at each snapshot), and
 * a snapshot copies just those pages. A page's contents at snapshot t is its newest version at
 * or before t. Restoring puts back in place only the pages that can differ: those written since
 * the current interval began, plus those of the snapshots between there and the target.
 */
export class History {
  readonly budgetBytes: number;
  readonly interval: number;
  private readonly snaps: Snap[] = [];
  private readonly versions = new Map<number, PageVersions>();
  private nextId = 1;
  private pageBytes = 0;
  private stateBytes = 0;
  /** approxBytes of the machine state at the last measure (-1: not yet). */
  private stateSize = -1;
  /** The snapshot the current interval started from: memory differs from it only in mem.dirtyPages() ∪ carry. */
  private base: Snap | null = null;
  private carry = new Set<number>();
  private furthest: Moment;
  /** Passing this snapshot while re-executing: flush the TLB there as the recorded run did. */
  private nextPass: Snap | null = null;
  /**
   * The debugger's state to keep with each snapshot (taken when one is recorded and refreshed
   * whenever re-execution passes one): restoreBefore() hands it back.
   */
  tagger: (() => unknown) | null = null;

  constructor(readonly machine: Machine, opts: HistoryOptions = {}) {
    this.budgetBytes = Math.max(PAGE, Math.floor(opts.budgetBytes ?? DEFAULT_HISTORY_MIB * 2 ** 20));
    this.interval = Math.max(100, Math.floor(opts.interval ?? DEFAULT_INTERVAL));
    this.furthest = momentOf(machine);
  }

  get snapshotCount(): number {
    return this.snaps.length;
  }

  /** Moments of the snapshots, oldest first (tests, views). */
  snapshotMoments(): Moment[] {
    return this.snaps.map((s) => ({ ...s.moment }));
  }

  info(): HistoryInfo {
    const current = momentOf(this.machine);
    const newest = compareMoments(this.furthest, current) >= 0 ? this.furthest : current;
    return {
      oldest: this.snaps.length > 0 ? { ...this.snaps[0].moment } : current,
      current, newest: { ...newest },
      bytes: this.pageBytes + this.stateBytes, budgetBytes: this.budgetBytes, snapshots: this.snaps.length,
    };
  }

  /** The furthest moment reached in this timeline. */
  get newest(): Moment {
    return { ...this.furthest };
  }

  get oldest(): Moment | null {
    return this.snaps.length > 0 ? { ...this.snaps[0].moment } : null;
  }

  // ---------------------------------------------------------------- recording

  /** Take a snapshot now (the start of the run, a state change by the debugger). */
  record(): void {
    const m = this.machine;
    const moment = momentOf(m);
    let last = this.snaps.length > 0 ? this.snaps[this.snaps.length - 1] : null;
    if (last !== null && compareMoments(moment, last.moment) < 0) throw new Error('history: snapshots are taken at the newest end');
    if (last !== null && sameMoment(last.moment, moment)) { this.dropNewest(); last = this.snaps.length > 0 ? this.snaps[this.snaps.length - 1] : null; }
    // Pages that can differ from the previous snapshot's memory (the first snapshot holds every allocated page).
    const pages = last === null ? m.mem.allocatedPages() : [...this.changedSince(last)];
    m.mem.takeDirty();
    // Write views into pages are dropped with the dirty marks: the TLB's write pages must be fetched again.
    m.cpu.flushTlb();
    const id = this.nextId++;
    for (const pn of pages) {
      const p = m.mem.pageOrNull(pn);
      let v = this.versions.get(pn);
      if (v === undefined) { v = { ids: [], data: [] }; this.versions.set(pn, v); }
      v.ids.push(id);
      v.data.push(p === undefined ? null : p.slice());
      this.pageBytes += PAGE;
    }
    const state = m.captureState();
    const pending = this.pendingNow();
    const tag = this.tagger?.();
    // The machine state's size hardly changes between snapshots: it is measured on every 16th (walking it costs
    // more than taking it) and the last measure is used in between; pending stops and tags are small.
    if (this.stateSize < 0 || id % 16 === 0) this.stateSize = approxBytes(state);
    const snap: Snap = { id, moment, state, pending, tag, pages, stateBytes: this.stateSize + approxBytes(pending) + approxBytes(tag) };
    this.stateBytes += snap.stateBytes;
    this.snaps.push(snap);
    this.base = snap;
    this.carry.clear();
    this.nextPass = null;
    this.noteReached(moment);
    this.enforceBudget();
  }

  /** Pages whose contents can differ between snapshot `s` and now. */
  private changedSince(s: Snap): Set<number> {
    const set = new Set<number>(this.machine.mem.dirtyPages());
    for (const pn of this.carry) set.add(pn);
    const b = this.base;
    if (b !== null && b !== s) {
      const lo = Math.min(b.id, s.id), hi = Math.max(b.id, s.id);
      for (const x of this.snaps) if (x.id > lo && x.id <= hi) for (const pn of x.pages) set.add(pn);
    }
    return set;
  }

  /**
   * Before a forward slice: at most this many budget units, so the slice ends exactly at the
   * next snapshot when re-executing recorded history (the TLB is flushed there as it was).
   */
  sliceLimit(units: number): number {
    const now = momentOf(this.machine);
    const next = this.nextSnapshotAfter(now);
    this.nextPass = next;
    if (next !== null) return Math.max(1, Math.min(units, unitsBetween(now, next.moment)));
    // At the newest end: end the slice when the next snapshot is due (a unit is at most one instruction or one exit).
    const last = this.snaps[this.snaps.length - 1];
    if (last === undefined) return units;
    const cost = (now.icount - last.moment.icount) + EXIT_COST * (now.exits - last.moment.exits);
    return Math.max(1, Math.min(units, this.interval - cost));
  }

  /** After a forward slice: pass a recorded snapshot, or record one when an interval has gone by at the newest end. */
  afterSlice(): void {
    const m = this.machine;
    const now = momentOf(m);
    const pass = this.nextPass;
    this.nextPass = null;
    if (pass !== null) {
      if (sameMoment(pass.moment, now)) this.rebase(pass);
      return;
    }
    this.noteReached(now);
    const last = this.snaps[this.snaps.length - 1];
    if (last === undefined || compareMoments(now, last.moment) <= 0) return;
    // Only where the whole state is in the processor, VMX unit and devices: in the guest (or bare metal), not mid-exit, not ended.
    if (now.phase !== 1 || m.result !== null) return;
    const cost = (now.icount - last.moment.icount) + EXIT_COST * (now.exits - last.moment.exits);
    if (cost >= this.interval) this.record();
  }

  /** The debugger stop pending now (copies). */
  private pendingNow(): PendingStop {
    const hv = this.machine.hv, w = this.machine.cpu.watchHit;
    const e = hv?.stoppedAtExit ?? null;
    return { exit: e === null ? null : { ...e }, watchHit: w === null ? null : { ...w } };
  }

  /** Re-executing reached snapshot `s` exactly: the machine equals it, so a new interval starts from it. */
  private rebase(s: Snap): void {
    if (this.tagger !== null) s.tag = this.tagger();
    this.machine.mem.takeDirty();
    this.machine.cpu.flushTlb();
    this.base = s;
    this.carry.clear();
  }

  /** The oldest snapshot after `m` (binary search: this runs before every forward slice, single steps included). */
  private nextSnapshotAfter(m: Moment): Snap | null {
    const snaps = this.snaps;
    if (snaps.length === 0 || compareMoments(snaps[snaps.length - 1].moment, m) <= 0) return null;
    let lo = 0, hi = snaps.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (compareMoments(snaps[mid].moment, m) > 0) hi = mid; else lo = mid + 1;
    }
    return snaps[lo];
  }

  private noteReached(m: Moment): void {
    if (compareMoments(m, this.furthest) > 0) this.furthest = { ...m };
  }

  /** Note the current moment as reached (after a stop). */
  reached(): void {
    this.noteReached(momentOf(this.machine));
  }

  /**
   * The debugger changed the machine's state here: the recorded future no longer follows from
   * it. Snapshots after now (and at now) are dropped, console output from here on is new, and a
   * snapshot of the changed state is taken so going back and forth never re-executes across the change.
   */
  diverged(): void {
    const now = momentOf(this.machine);
    while (this.snaps.length > 0 && compareMoments(this.snaps[this.snaps.length - 1].moment, now) >= 0) this.dropNewest();
    this.furthest = { ...now };
    this.machine.divergeOutput();
    // Write-through disks: the image file follows this timeline from here (virtio/disk.ts MemoryDisk.diverge).
    for (const dev of this.machine.virtio.values()) {
      const b = (dev as { backend?: { diverge?: () => void } }).backend;
      b?.diverge?.();
    }
    this.record();
  }

  /** Drop the newest snapshot (its page versions are the newest of their pages). */
  private dropNewest(): void {
    const s = this.snaps.pop()!;
    for (const pn of s.pages) {
      const v = this.versions.get(pn)!;
      v.ids.pop(); v.data.pop();
      if (v.ids.length === 0) this.versions.delete(pn);
      this.pageBytes -= PAGE;
    }
    this.stateBytes -= s.stateBytes;
    if (this.base === s) {
      // Memory now differs from the previous snapshot also in the pages this one changed.
      for (const pn of s.pages) this.carry.add(pn);
      for (const pn of this.machine.mem.dirtyPages()) this.carry.add(pn);
      this.machine.mem.takeDirty();
      this.machine.cpu.flushTlb();
      this.base = this.snaps.length > 0 ? this.snaps[this.snaps.length - 1] : null;
    }
  }

  /** Drop the oldest history until the budget holds (one snapshot always stays). */
  private enforceBudget(): void {
    while (this.snaps.length > 1 && this.pageBytes + this.stateBytes > this.budgetBytes) {
      const o = this.snaps.shift()!;
      const n = this.snaps[0];
      const nPages = n.pages.slice();
      // The oldest snapshot's pages become the next one's, unless it has its own version.
      for (const pn of o.pages) {
        const v = this.versions.get(pn)!;
        if (v.ids.length > 1 && v.ids[1] === n.id) {
          v.ids.shift(); v.data.shift();
          this.pageBytes -= PAGE;
        } else {
          v.ids[0] = n.id;
          n.pages.push(pn);
        }
      }
      this.stateBytes -= o.stateBytes;
      if (this.base === o) {
        this.base = n;
        for (const pn of nPages) this.carry.add(pn);
      }
    }
  }

  // ---------------------------------------------------------------- going back

  /**
   * The newest snapshot at or before `m` (strictly before with `strict`) whose tag `accept`
   * takes (default: any), or null.
   */
  snapshotAtOrBefore(m: Moment, strict = false, accept?: (tag: unknown, at: Moment) => boolean): Moment | null {
    const s = this.findSnap(m, strict, accept);
    return s === null ? null : { ...s.moment };
  }

  private findSnap(m: Moment, strict: boolean, accept?: (tag: unknown, at: Moment) => boolean): Snap | null {
    for (let k = this.snaps.length - 1; k >= 0; k--) {
      const c = compareMoments(this.snaps[k].moment, m);
      if ((c < 0 || (c === 0 && !strict)) && (accept === undefined || accept(this.snaps[k].tag, this.snaps[k].moment))) return this.snaps[k];
    }
    return null;
  }

  /**
   * Restore the newest snapshot at or before `m` (strictly before with `strict`) whose tag
   * `accept` takes; returns its moment and tag, or null when history does not reach back that far.
   * The debugger stop pending at that moment is put back too (see PendingStop).
   */
  restoreBefore(m: Moment, strict = false, accept?: (tag: unknown, at: Moment) => boolean): { moment: Moment; tag: unknown } | null {
    const s = this.findSnap(m, strict, accept);
    if (s === null) return null;
    this.restoreSnap(s);
    return { moment: { ...s.moment }, tag: s.tag };
  }

  private restoreSnap(s: Snap): void {
    const m = this.machine;
    const fix = this.changedSince(s);
    const entries: Array<[number, Uint8Array | null]> = [];
    for (const pn of fix) entries.push([pn, this.pageAt(pn, s.id)]);
    m.mem.restorePages(entries);
    m.restoreState(s.state);
    const hv = m.hv;
    // The stop pending at the snapshot: the exit the hypervisor stopped at (before its handler: it
    // also holds it as its pendingExit; after it), and a data breakpoint hit not yet reported.
    if (hv !== null) hv.stoppedAtExit = s.pending.exit === null ? null : { ...s.pending.exit };
    m.cpu.watchHit = s.pending.watchHit === null ? null : { ...s.pending.watchHit };
    m.cpu.stopRequested = s.pending.watchHit !== null;
    this.base = s;
    this.carry.clear();
    this.nextPass = null;
  }

  /** A page's contents as of snapshot `id`: its newest version at or before it (null: zeros). */
  private pageAt(pn: number, id: number): Uint8Array | null {
    const v = this.versions.get(pn);
    if (v === undefined) return null;
    let lo = 0, hi = v.ids.length - 1, found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (v.ids[mid] <= id) { found = mid; lo = mid + 1; } else hi = mid - 1;
    }
    return found < 0 ? null : v.data[found];
  }
}

/** Rough bytes of a state object (numbers 8, strings 2 per char, typed arrays their length); accessors are not read. */
export function approxBytes(v: unknown, depth = 0): number {
  if (v === null || v === undefined || depth > 12) return 8;
  switch (typeof v) {
    case 'number': case 'boolean': case 'bigint': return 8;
    case 'string': return 16 + 2 * v.length;
    case 'object': break;
    default: return 8;
  }
  if (ArrayBuffer.isView(v)) return 32 + v.byteLength;
  let n = 32;
  if (Array.isArray(v)) { for (const x of v) n += approxBytes(x, depth + 1); return n; }
  if (v instanceof Map) { for (const [k, x] of v) n += approxBytes(k, depth + 1) + approxBytes(x, depth + 1); return n; }
  for (const k of Object.keys(v)) {
    const d = Object.getOwnPropertyDescriptor(v, k);
    if (d === undefined || d.get !== undefined) continue;
    n += 16 + approxBytes(d.value, depth + 1);
  }
  return n;
}
