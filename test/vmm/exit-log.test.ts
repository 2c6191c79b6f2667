// The exit log: it grows from its initial slots to its capacity, then keeps the newest exits; windows page through it; statistics count every exit.
import { describe, expect, it } from 'vitest';
import { appendNote, DeferredNote, EXIT_LOG_INITIAL, ExitLog } from '../../emulator/vmm/exit-log.js';
import { prng } from '../prng.js';

const bytes = new Uint8Array([0x0f, 0xa2]);
function log(n: number, capacity?: number): ExitLog {
  const l = new ExitLog(capacity);
  // Exit k: CPUID (10) when k is even, HLT (12) when odd; RIP and icount identify it.
  for (let k = 1; k <= n; k++) l.record(k % 2 === 0 ? 10 : 12, k, 0, 0x1000 + k, bytes, 2, 0, 64, 10 * k, 'emulated', k === 3 ? 'third' : undefined, 1);
  return l;
}

describe('ExitLog', () => {
  it('keeps every exit past its initial slots while under capacity, in order, with their fields', () => {
    const l = log(EXIT_LOG_INITIAL * 2 + 5);
    expect(l.firstKept).toBe(1);
    const all = l.recent();
    expect(all.map((e) => e.n)).toEqual(Array.from({ length: EXIT_LOG_INITIAL * 2 + 5 }, (_, i) => i + 1));
    expect(all[2]).toMatchObject({ n: 3, name: 'HLT', rip: 0x1003, icount: 30, note: 'third', qualification: '0x3', bytes: [0x0f, 0xa2] });
    expect(l.byReason.get(10)!.count + l.byReason.get(12)!.count).toBe(l.total);
  });

  it('wraps at its capacity: the newest are kept, older ones are counted only', () => {
    const l = log(20_000, 10_000);
    expect(l.total).toBe(20_000);
    expect(l.firstKept).toBe(10_001);
    expect(l.recent().length).toBe(10_000);
    expect(l.window(9_990, 10_005).map((e) => e.n)).toEqual(Array.from({ length: 5 }, (_, i) => 10_001 + i));
    expect(l.window(19_999, 30_000).map((e) => e.rip)).toEqual([0x1000 + 19_999, 0x1000 + 20_000]);
    expect(l.byReason.get(10)!.count).toBe(10_000);
  });

  it('counts exits by reason in the order reasons first came, with names, instructions, odd reason numbers and a saved state', () => {
    const l = new ExitLog();
    l.record(30, 0xe9 << 16, 0, 0x1000, bytes, 2, 0, 64, 5, 'emulated', undefined, 5);
    l.add({ reason: 200, name: 'MY_EXIT', qualification: '0x0', rip: 0x1002, bytes: [], bits: 64, icount: 7, outcome: 'resumed', summary: '' }, 2);
    l.record(10, 0, 0, 0x1004, bytes, 2, 0, 64, 9, 'emulated', undefined, 2);
    l.record(30, 0xe9 << 16, 0, 0x1000, bytes, 2, 0, 64, 12, 'emulated', undefined, 3);
    l.add({ reason: 10.5, name: 'ODD', qualification: '0x0', rip: 0x1006, bytes: [], bits: 64, icount: 13, outcome: 'resumed', summary: '' }, 1);
    const rows = [...l.byReason];
    expect(rows).toEqual([
      [30, { name: 'IO_INSTRUCTION', count: 2, instructions: 8 }], [200, { name: 'MY_EXIT', count: 1, instructions: 2 }],
      [10, { name: 'CPUID', count: 1, instructions: 2 }], [10.5, { name: 'ODD', count: 1, instructions: 1 }],
    ]);
    // byReason is a copy: changing it changes nothing.
    l.byReason.get(30)!.count = 99;
    l.byReason.clear();
    expect(l.byReason.get(30)!.count).toBe(2);
    expect(l.countsByName()).toEqual({ IO_INSTRUCTION: 2, MY_EXIT: 1, CPUID: 1, ODD: 1 });
    const saved = l.saveState();
    l.record(10, 0, 0, 0x1004, bytes, 2, 0, 64, 20, 'emulated', undefined, 7);
    expect(l.byReason.get(10)!.count).toBe(2);
    l.loadState(saved);
    expect([...l.byReason]).toEqual(rows);
    const other = new ExitLog();
    other.loadState(JSON.parse(JSON.stringify(saved)));
    expect([...other.byReason]).toEqual(rows);
  });

  it('restores a saved state, growing to hold it', () => {
    const a = log(6_000);
    const b = new ExitLog();
    b.loadState(JSON.parse(JSON.stringify(a.saveState())));
    expect(b.total).toBe(6_000);
    expect(b.window(5_999, 6_000).map((e) => [e.n, e.rip])).toEqual([[5_999, 0x1000 + 5_999], [6_000, 0x1000 + 6_000]]);
    b.record(10, 0, 0, 0x9999, bytes, 2, 0, 64, 1, 'emulated', undefined, 1);
    expect(b.last()).toMatchObject({ n: 6_001, rip: 0x9999 });
    expect(b.recent().length).toBe(6_001);
  });

  it('keeps a deferred note as data until it is read, then shows the same text a formatted note would', () => {
    const l = new ExitLog();
    let formatted = 0;
    const event = { device: 'virtio-blk', seq: 7, requests: [41, 42] };
    const fmt = (e: typeof event): string => { formatted++; return `${e.device} QueueNotify #${e.seq} → requests ${e.requests.join(', ')}`; };
    const note = DeferredNote.formatted('virtio-mmio QueueNotify ← 0x0', fmt, event);
    l.record(48, 0x182, 0, 0x2000, bytes, 2, 0, 32, 5, 'emulated', appendNote(note, 'device done'), 1);
    l.annotateLast('→ injected vector 0x29 at entry'); // the entry after the exit: appended, still unformatted
    expect(formatted).toBe(0);
    const text = 'virtio-mmio QueueNotify ← 0x0; virtio-blk QueueNotify #7 → requests 41, 42; device done; → injected vector 0x29 at entry';
    expect(l.last()!.note).toBe(text);
    expect(l.window(1, 1)[0].note).toBe(text);
    expect(formatted).toBe(1); // made once, then kept as text
    // A string note is joined the same way.
    expect(appendNote(appendNote(undefined, 'a'), 'b')).toBe('a; b');
    // The saved state carries the text (a snapshot holds no formatter).
    const saved = JSON.parse(JSON.stringify(l.saveState()));
    const b = new ExitLog();
    b.loadState(saved);
    expect(b.last()!.note).toBe(text);
  });

  it('gives back the instruction bytes of every exit: a few repeated, hundreds of distinct ones in a chunk, and none', () => {
    const rand = prng(7);
    const l = new ExitLog(3 * EXIT_LOG_INITIAL);
    // A few instructions most exits repeat, then stretches of distinct random ones (more than a chunk's table holds).
    const common = [[0x0f, 0xa2], [0xee], [0x89, 0x10], [0x8b, 0x42, 0x60]].map((b) => new Uint8Array(b));
    const want: number[][] = [];
    const buf = new Uint8Array(16);
    for (let k = 0; k < 4 * EXIT_LOG_INITIAL; k++) {
      let b: Uint8Array;
      if (k % 7 === 3) b = new Uint8Array(0);
      else if (rand() < 0.5) b = common[Math.floor(rand() * common.length)];
      else b = Uint8Array.from({ length: 1 + Math.floor(rand() * 15) }, () => Math.floor(rand() * 256));
      buf.set(b);
      l.record(48, 0, 0, 0x1000 + k, buf, b.length, 0, 32, k, 'emulated', undefined, 1);
      want.push(Array.from(b));
    }
    const kept = l.recent();
    expect(kept.length).toBe(3 * EXIT_LOG_INITIAL);
    expect(kept.map((e) => e.bytes)).toEqual(want.slice(-3 * EXIT_LOG_INITIAL));
  });

  it('keeps the right bytes when the caller names them by a key (the fastpath), spilled ones included', () => {
    const rand = prng(11);
    const l = new ExitLog(3 * EXIT_LOG_INITIAL);
    const buf = new Uint8Array(16);
    const want: number[][] = [];
    let key = 0, len = 0;
    for (let k = 0; k < 4 * EXIT_LOG_INITIAL; k++) {
      // As the fastpath: the same buffer and key for runs of exits at one instruction; a new key at every refill. Many
      // distinct instructions, so that chunks' tables fill and later ones spill (a spilled code is per slot).
      if (k === 0 || rand() < 0.4) {
        len = 1 + Math.floor(rand() * 15);
        for (let j = 0; j < len; j++) buf[j] = Math.floor(rand() * 256);
        key++;
      }
      // Now and then an exit logged by the general path (no key) with other bytes in between.
      if (rand() < 0.05) {
        const other = Uint8Array.of(0xee);
        l.record(30, 0, 0, 0x3000, other, 1, 0, 32, k, 'emulated', undefined, 1);
        want.push([0xee]);
      }
      l.record(48, 0, 0, 0x1000 + k, buf, len, key, 32, k, 'emulated', undefined, 1);
      want.push(Array.from(buf.subarray(0, len)));
    }
    const kept = l.recent();
    expect(kept.map((e) => e.bytes)).toEqual(want.slice(-kept.length));
  });
});
