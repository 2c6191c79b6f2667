// What the virtio guests print and write, shared by the vmscope tests and the QEMU microvm reference tests (which check these texts against QEMU's devices).

/** Text the console guest sends through virtio-console's transmitq (console.c). */
export const CONSOLE_TEXT =
  'Hello from virtio-console!\n' +
  'this line is one chain of three descriptors\n' +
  'line 1 of 5\nline 2 of 5\nline 3 of 5\nline 4 of 5\nline 5 of 5\n' +
  'Goodbye from virtio-console.\n';

/** The console guest's closing debug-console line; the interrupt count is normalised to N by normaliseInterrupts. */
export const CONSOLE_DEBUGCON = 'virtio-console guest: transmitq size 16, interrupts N\n';

/** The block guest's report for a writable disk of `sectors` sectors whose id is `id`. */
export function blkReport(sectors: number, id: string): string {
  return [
    `virtio-blk: capacity ${sectors} sectors`,
    `virtio-blk: id "${id}"`,
    'PASS capacity holds the test sectors',
    'PASS write sectors 0-15',
    'PASS flush',
    'PASS read sectors 0-15 (4 requests in flight)',
    'PASS read back equals written',
    'PASS read past the end refused',
    'virtio-blk: interrupts N',
    'virtio-blk: all PASS',
    '',
  ].join('\n');
}

/** The block guest's report for a read-only disk that does not already hold the pattern: the write is refused (IOERR). */
export function blkReadOnlyReport(sectors: number, id: string): string {
  return [
    `virtio-blk: capacity ${sectors} sectors, read-only`,
    `virtio-blk: id "${id}"`,
    'PASS capacity holds the test sectors',
    'FAIL write sectors 0-15',
    '  status 01',
    'PASS flush',
    'PASS read sectors 0-15 (4 requests in flight)',
    'FAIL read back equals written',
    '  first difference at byte 0',
    'PASS read past the end refused',
    'virtio-blk: interrupts N',
    'virtio-blk: FAIL',
    '',
  ].join('\n');
}

/** The serial number both machines give the test disk (QEMU: -device virtio-blk-device,serial=...; vmscope's VIRTIO_BLK_ID). */
export const DISK_ID = 'vmscope-disk';

/** Sector s as blk.c's fill_sector writes it: a label line, then (s*37 + i) & 0xff for byte i. */
export function patternSector(s: number): Uint8Array {
  const p = new Uint8Array(512);
  const label = `vmscope virtio-blk sector ${String(s).padStart(2, '0')}\n`;
  for (let i = 0; i < 512; i++) p[i] = i < label.length ? label.charCodeAt(i) : (s * 37 + i) & 0xff;
  return p;
}

/** A disk image of `bytes` bytes with deterministic non-zero content (xorshift32), so untouched sectors are checkable. */
export function initialDisk(bytes: number, seed = 0x2545f491): Uint8Array {
  const d = new Uint8Array(bytes);
  let x = seed >>> 0;
  for (let i = 0; i < bytes; i++) {
    x ^= x << 13; x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5; x >>>= 0;
    d[i] = x & 0xff;
  }
  return d;
}

/** The image after the block guest: sectors 0..15 hold the pattern, everything else is unchanged. */
export function diskAfterBlkGuest(initial: Uint8Array): Uint8Array {
  const d = initial.slice();
  for (let s = 0; s < 16; s++) d.set(patternSector(s), s * 512);
  return d;
}

/** The rng guest's output shape: a header, 64 bytes as four lines of 16 hex pairs, the interrupt line. */
export const RNG_OUTPUT = /^virtio-rng: 64 bytes of entropy\n((?:[0-9a-f]{2} ){15}[0-9a-f]{2}\n){4}virtio-rng: interrupts [1-9]\d*\n$/;

/** The 64 entropy bytes of an rng guest run. */
export function rngBytes(output: string): number[] {
  const lines = output.split('\n').slice(1, 5);
  return lines.flatMap((l) => l.split(' ').map((h) => parseInt(h, 16)));
}

/** Replace each "interrupts <n>" by "interrupts N", returning the counts (each must be at least 1 for a guest that waits with HLT). */
export function normaliseInterrupts(text: string): { text: string; counts: number[] } {
  const counts: number[] = [];
  return { text: text.replace(/interrupts (\d+)/g, (_, n: string) => { counts.push(Number(n)); return 'interrupts N'; }), counts };
}

/** The feature-negotiation guest's lines for one device. */
export function noVersionDevice(name: string, base: number, keptWithoutVersion1: boolean): string {
  return (
    `${name} at 0x${base.toString(16).padStart(8, '0')}\n` +
    `  without VERSION_1: FEATURES_OK was ${keptWithoutVersion1 ? 'kept' : 'not kept'} by the device\n` +
    '  with VERSION_1: FEATURES_OK kept\n'
  );
}

/** isa-debug-exit: the guest's kmain result v ends the run with exit code (v<<1)|1. */
export const exitCode = (v: number): number => (v << 1) | 1;
