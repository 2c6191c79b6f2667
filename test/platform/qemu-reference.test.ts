// Differential tests: PIC, PIT, RTC/CMOS, fw_cfg, port 0x61/0x92 and PCI register reads after scripted writes, on QEMU 7.2 and on our platform.
import { describe, expect, it } from 'vitest';
import { compareReads, qemuAvailable, runOnModel, runOnQemu, Script } from './qemu-script.js';

const hasQemu = qemuAvailable();
const COM1 = 0x3f8;
const COM2 = 0x2f8;

/** Both UARTs to a known state with interrupts off and a huge divisor (no timers fire in QEMU). */
function uartPrologue(s: Script): void {
  for (const u of [COM1, COM2]) {
    s.w(u + 3, 0x80).w(u, 0).w(u + 1, 0xff).w(u + 3, 0x03).w(u + 1, 0).w(u + 2, 0x07).w(u + 2, 0).w(u + 4, 0x08);
    s.ops.push({ kind: 'discard', port: u + 5 }, { kind: 'discard', port: u }, { kind: 'discard', port: u + 2 }, { kind: 'discard', port: u + 6 });
  }
}
/** THRE interrupt on (IRQ line high) or off for a UART (MCR.OUT2 is set by the prologue). */
const thre = (s: Script, u: number, on: boolean) => s.w(u + 1, on ? 0x02 : 0x00);

/** Linux's init_8259A(): ICW1..ICW4 on both chips, vector bases 0x30 / 0x38, then masks. IRQ 0 stays masked (QEMU's PIT runs on wall time). */
function linuxPicInit(s: Script, icw4 = 0x01): void {
  s.w(0x21, 0xff).w(0xa1, 0xff);
  s.w(0x20, 0x11).w(0x21, 0x30).w(0x21, 0x04).w(0x21, icw4);
  s.w(0xa0, 0x11).w(0xa1, 0x38).w(0xa1, 0x02).w(0xa1, icw4);
}
const readIrr = (s: Script, port: number, label: string) => s.w(port, 0x0a).r(port, label, port === 0x20 ? 0xfe : 0xff);
const readIsr = (s: Script, port: number, label: string) => s.w(port, 0x0b).r(port, label);
const poll = (s: Script, port: number, label: string) => s.w(port, 0x0c).r(port, label);

function check(s: Script, tag: string, mem = 32): void {
  const q = runOnQemu(s.ops, tag, mem);
  const m = runOnModel(s.ops, mem);
  expect(compareReads(s.ops, s.masks, m, q, s.labels)).toBeNull();
}

describe.skipIf(!hasQemu)('platform devices against QEMU 7.2 (-machine pc)', () => {
  it('8259A: Linux init, masks, IRR/ISR reads, poll, EOI variants, rotation, special mask, AEOI, ELCR', () => {
    const s = new Script();
    uartPrologue(s);
    thre(s, COM1, false);
    thre(s, COM2, false);
    linuxPicInit(s);
    s.w(0x21, 0xfb).w(0xa1, 0xff).r(0x21, 'master IMR').r(0xa1, 'slave IMR');
    readIrr(s, 0x20, 'IRR idle');
    readIsr(s, 0x20, 'ISR idle');
    readIrr(s, 0xa0, 'slave IRR idle');
    // ELCR: IRQ 0-2, 8 and 13 cannot be level-triggered.
    s.w(0x4d0, 0xff).w(0x4d1, 0xff).r(0x4d0, 'ELCR1').r(0x4d1, 'ELCR2').w(0x4d0, 0x00).w(0x4d1, 0x00).r(0x4d0, 'ELCR1 0').r(0x4d1, 'ELCR2 0');
    // COM1 raises IRQ 4 (edge): IRR, then poll (acts as INTA), ISR, IRR consumed.
    thre(s, COM1, true);
    readIrr(s, 0x20, 'IRR irq4');
    poll(s, 0x20, 'poll masked');
    s.w(0x21, 0xeb);
    poll(s, 0x20, 'poll irq4');
    readIsr(s, 0x20, 'ISR irq4');
    readIrr(s, 0x20, 'IRR after inta');
    poll(s, 0x20, 'poll nothing');
    s.w(0x20, 0x20);
    readIsr(s, 0x20, 'ISR after EOI');
    // Both COM ports: IRQ 3 outranks IRQ 4; in-service IRQ 3 blocks IRQ 4; specific EOI.
    thre(s, COM1, false);
    thre(s, COM1, true);
    thre(s, COM2, true);
    s.w(0x21, 0xe3);
    readIrr(s, 0x20, 'IRR 3+4');
    poll(s, 0x20, 'poll first');
    poll(s, 0x20, 'poll second (blocked)');
    readIsr(s, 0x20, 'ISR 3');
    s.w(0x20, 0x63);
    poll(s, 0x20, 'poll after specific EOI');
    readIsr(s, 0x20, 'ISR 4');
    s.w(0x20, 0x20);
    // Set priority: IRQ 3 lowest, so IRQ 4 wins.
    thre(s, COM1, false); thre(s, COM2, false); thre(s, COM1, true); thre(s, COM2, true);
    s.w(0x20, 0xc3);
    poll(s, 0x20, 'poll rotated');
    poll(s, 0x20, 'poll rotated 2');
    readIsr(s, 0x20, 'ISR rotated');
    s.w(0x20, 0xa0); // rotate on non-specific EOI
    readIsr(s, 0x20, 'ISR after rotate EOI');
    s.w(0x20, 0x20);
    readIsr(s, 0x20, 'ISR after EOI 2');
    // Special mask mode: with IRQ 4 in service and masked, IRQ 3 can be serviced.
    s.w(0x20, 0xc7); // back to IRQ 0 highest
    thre(s, COM1, false); thre(s, COM2, false); thre(s, COM1, true);
    poll(s, 0x20, 'poll 4');
    thre(s, COM2, true);
    s.w(0x21, 0xfb & ~0x08 | 0x10 | 0x01);
    poll(s, 0x20, 'poll 3 blocked');
    thre(s, COM2, false); thre(s, COM2, true);
    s.w(0x20, 0x68);
    poll(s, 0x20, 'poll 3 special mask');
    readIsr(s, 0x20, 'ISR 3+4');
    s.w(0x20, 0x48);
    s.w(0x20, 0x20).w(0x20, 0x20);
    readIsr(s, 0x20, 'ISR clear');
    // Level-triggered IRQ 4 via ELCR: IRR follows the line, INTA does not clear it.
    s.w(0x21, 0xeb);
    thre(s, COM2, false);
    s.w(0x4d0, 0x10);
    thre(s, COM1, false);
    readIrr(s, 0x20, 'level low');
    thre(s, COM1, true);
    readIrr(s, 0x20, 'level high');
    poll(s, 0x20, 'level poll');
    readIrr(s, 0x20, 'level IRR kept');
    thre(s, COM1, false);
    readIrr(s, 0x20, 'level IRR dropped');
    s.w(0x20, 0x20);
    s.w(0x4d0, 0x00);
    // Auto-EOI: poll leaves ISR clear.
    linuxPicInit(s, 0x03);
    s.w(0x21, 0xeb).w(0xa1, 0xff);
    thre(s, COM1, true);
    poll(s, 0x20, 'aeoi poll');
    readIsr(s, 0x20, 'aeoi ISR');
    // Reads at the data port after OCW3 still give the IMR; an ICW1 mid-way resets IMR.
    s.w(0x20, 0x0b).r(0x21, 'IMR after OCW3');
    s.w(0xa0, 0x11).r(0xa1, 'slave IMR after ICW1').w(0xa1, 0x70).w(0xa1, 0x02).w(0xa1, 0x01).r(0xa1, 'slave IMR after ICWs');
    thre(s, COM1, false);
    check(s, 'pic');
  });

  it('8254: read-back status bytes for every mode/access/BCD combination, latch ordering, port 0x61', () => {
    const s = new Script();
    // Channel 2 with the gate low; the status mode/RW/BCD fields (bits 5:0) are exact; OUT and null count are time- or model-dependent.
    s.w(0x61, 0x00);
    for (const rw of [1, 2, 3]) {
      for (const mode of [0, 1, 2, 3, 4, 5, 6, 7]) {
        for (const bcd of [0, 1]) {
          s.w(0x43, 0x80 | (rw << 4) | (mode << 1) | bcd);
          s.w(0x43, 0xe8); // read-back: status only, channel 2
          s.r(0x42, `status rw${rw} m${mode} bcd${bcd}`, 0x3f);
        }
      }
    }
    // Status latched twice: the second read-back is ignored until the status is read.
    s.w(0x43, 0xb4).w(0x42, 0x00).w(0x42, 0x10);
    s.w(0x43, 0xe8).w(0x43, 0xe8).r(0x42, 'status once', 0x3f).w(0x43, 0xe8).r(0x42, 'status again', 0x3f);
    // Read-back of channels 1 and 2 at once (status only).
    s.w(0x43, 0x56).w(0x43, 0xec).r(0x41, 'ch1 status', 0x3f).r(0x42, 'ch2 status', 0x3f);
    // Port 0x61: gate and speaker bits read back; channel 2 mode 0 with a long count keeps OUT low.
    s.w(0x43, 0xb0).w(0x42, 0xff).w(0x42, 0xff);
    s.w(0x61, 0x01).r(0x61, 'port61 gate', 0x23).w(0x61, 0x03).r(0x61, 'port61 gate+spk', 0x23).w(0x61, 0x02).r(0x61, 'port61 spk', 0x23);
    s.w(0x61, 0x00).r(0x61, 'port61 off', 0x23);
    s.r(0x43, 'control port reads 0');
    check(s, 'pit');
  });

  it('RTC/CMOS: formats, memory-size bytes, NVRAM, index port, registers A/B/D', () => {
    for (const mem of [32, 200, 4608]) {
      const s = new Script();
      for (const i of [0x15, 0x16, 0x17, 0x18, 0x30, 0x31, 0x34, 0x35, 0x5b, 0x5c, 0x5d, 0x5f]) s.w(0x70, i).r(0x71, `cmos[${i.toString(16)}] ${mem}M`);
      s.w(0x70, 0x0a).w(0x71, 0x26).r(0x71, 'A', 0x7f);
      s.w(0x70, 0x0d).r(0x71, 'D').w(0x71, 0x00).r(0x71, 'D after write');
      // Date in BCD 24 h, binary 24 h, BCD 12 h (elapsed wall time < 1 min: seconds are not compared).
      for (const b of [0x02, 0x06, 0x00, 0x04]) {
        s.w(0x70, 0x0b).w(0x71, b).r(0x71, `B=${b}`);
        for (const [i, name] of [[0x09, 'year'], [0x08, 'month'], [0x07, 'day'], [0x06, 'weekday'], [0x32, 'century'], [0x04, 'hour'], [0x02, 'minute']] as const) {
          s.w(0x70, i).r(0x71, `${name} B=${b}`);
        }
      }
      // Set a time with SET = 1 and read it back (frozen).
      s.w(0x70, 0x0b).w(0x71, 0x82);
      for (const [i, v] of [[0x00, 0x58], [0x02, 0x59], [0x04, 0x23], [0x07, 0x28], [0x08, 0x02], [0x09, 0x24], [0x32, 0x20]] as const) s.w(0x70, i).w(0x71, v);
      for (const i of [0x00, 0x02, 0x04, 0x07, 0x08, 0x09, 0x32, 0x06]) s.w(0x70, i).r(0x71, `set time reg ${i}`);
      s.w(0x70, 0x0b).r(0x71, 'B with SET');
      s.w(0x70, 0x0b).w(0x71, 0x92).r(0x71, 'B SET clears UIE');
      // NVRAM and the NMI-disable bit of the index.
      s.w(0x70, 0x40).w(0x71, 0xa5).w(0x70, 0xc0).r(0x71, 'nvram via NMI-off index').w(0x70, 0x7f).w(0x71, 0x5a).r(0x71, 'nvram 7f');
      s.r(0x70, 'index port');
      check(s, `cmos-${mem}`, mem);
    }
  });

  it('fw_cfg: signature, RAM size, CPU counts, unknown keys, reads past the end, invalid sizes', () => {
    const s = new Script();
    s.w(0x510, 0x0000, 2);
    for (let i = 0; i < 6; i++) s.r(0x511, `sig ${i}`);
    s.w(0x510, 0x0001, 2).r(0x511, 'id bit 0', 0x01);
    s.w(0x510, 0x0003, 2);
    for (let i = 0; i < 9; i++) s.r(0x511, `ram ${i}`);
    s.w(0x510, 0x0005, 2).r(0x511, 'nb_cpus lo').r(0x511, 'nb_cpus hi');
    s.w(0x510, 0x000f, 2).r(0x511, 'max_cpus lo').r(0x511, 'max_cpus hi');
    s.w(0x510, 0x0002, 2);
    for (let i = 0; i < 16; i++) s.r(0x511, `uuid ${i}`);
    s.w(0x510, 0x1234, 2).r(0x511, 'unknown key').w(0x510, 0x3fff, 2).r(0x511, 'key 3fff');
    s.w(0x510, 0x0000, 2).r(0x510, 'data via 0x510').r(0x511, 'data via 0x511').r(0x511, 'word read', 0xff, 2).r(0x511, 'after word');
    s.w(0x511, 0x0003, 2).r(0x511, 'select via word write at 0x511');
    check(s, 'fwcfg');
  });

  it('PCI mechanism #1: CONFIG_ADDRESS reads back, absent functions read all ones, 0xCF9 reset control', () => {
    const s = new Script();
    for (const addr of [0x8000f800, 0x80001803, 0x0000f800, 0xfffffffc, 0x80ff0000]) {
      s.w(0xcf8, addr, 4).r(0xcf8, `addr ${addr.toString(16)}`, 0xffffffff, 4).r(0xcfc, 'data', 0xffffffff, 4).r(0xcfd, 'data byte').r(0xcfe, 'data word', 0xffff, 2);
    }
    s.w(0xcf8, 0x8000f800, 4).w(0xcfc, 0x12345678, 4).r(0xcfc, 'after write', 0xffffffff, 4);
    s.r(0xcf9, 'rcr').w(0xcf9, 0x02).r(0xcf9, 'rcr 2').w(0xcf9, 0x00);
    s.r(0x92, 'port92', 0xfe).w(0x92, 0x02).r(0x92, 'port92 a20');
    check(s, 'pci');
  });
});
