// Runs one multiboot kernel under v86 (npm) with SeaBIOS for bench/peers.ts: exits 0 once the guest writes a byte to COM1 (printed on stdout), 2 on a timeout.
// Usage: node bench/v86-child.mjs KERNEL BIOS VGA_BIOS [TIMEOUT_MS]. Plain ESM JavaScript (not bundled): it imports v86 from node_modules.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { V86 } from 'v86';

const [kernel, bios, vgaBios, timeout = '100000'] = process.argv.slice(2);
if (kernel === undefined || bios === undefined || vgaBios === undefined) {
  process.stderr.write('usage: node bench/v86-child.mjs KERNEL BIOS VGA_BIOS [TIMEOUT_MS]\n');
  process.exit(64);
}
const buffer = (path) => {
  const b = readFileSync(path);
  return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength);
};
const emulator = new V86({
  wasm_path: fileURLToPath(new URL('../node_modules/v86/build/v86.wasm', import.meta.url)),
  bios: { buffer: buffer(bios) },
  vga_bios: { buffer: buffer(vgaBios) },
  multiboot: { buffer: buffer(kernel) },
  memory_size: 64 << 20,
  autostart: true,
  disable_speaker: true,
  log_level: 0,
});
emulator.add_listener('serial0-output-byte', (byte) => {
  process.stdout.write(String.fromCharCode(byte), () => process.exit(0));
});
setTimeout(() => {
  process.stderr.write(`v86: no serial output within ${timeout} ms\n`);
  process.exit(2);
}, Number(timeout));
// v86 ends the emulation on a write to port 0xF4 (its test-exit port) by throwing "HALT".
process.on('uncaughtException', (e) => {
  if (e !== 'HALT') throw e;
  process.exit(0);
});
