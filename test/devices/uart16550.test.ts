// 16550A UART register behaviour per the NS PC16550D datasheet and the Linux 8250 driver's access sequences.
import { describe, expect, it } from 'vitest';
import { IoBus } from '../../emulator/devices/bus.js';
import { COM1_PORT, Uart16550, UART_INPUT_LIMIT, type Uart16550Options } from '../../emulator/devices/uart16550.js';

const RBR = 0, THR = 0, DLL = 0, IER = 1, DLM = 1, IIR = 2, FCR = 2, LCR = 3, MCR = 4, LSR = 5, MSR = 6, SCR = 7;

function make(opts: Uart16550Options = {}) {
  const tx: number[] = [];
  const irq: boolean[] = [];
  const u = new Uart16550((b, src) => {
    expect(src).toBe('uart');
    tx.push(b);
  }, { setIrq: (l) => irq.push(l), ...opts });
  const bus = new IoBus();
  bus.mapPorts(COM1_PORT, 8, u);
  const r = (off: number) => bus.ioRead(COM1_PORT + off, 1);
  const w = (off: number, v: number) => bus.ioWrite(COM1_PORT + off, 1, v);
  return { u, bus, r, w, tx, irq };
}

describe('16550A reset state and plain registers', () => {
  it('reads the datasheet reset values (Table V) with a connected terminal on the modem inputs', () => {
    const { r } = make();
    expect(r(IER)).toBe(0x00);
    expect(r(IIR)).toBe(0x01); // no interrupt pending, FIFOs off
    expect(r(LCR)).toBe(0x00);
    expect(r(MCR)).toBe(0x00);
    expect(r(LSR)).toBe(0x60); // THRE | TEMT
    expect(r(MSR)).toBe(0xb0); // DCD | DSR | CTS, no deltas
  });

  it('keeps IER bits 4-7 and MCR bits 5-7 at zero, SCR and LCR fully writable', () => {
    const { r, w } = make();
    w(IER, 0xff);
    expect(r(IER)).toBe(0x0f);
    w(MCR, 0xff);
    expect(r(MCR)).toBe(0x1f);
    w(SCR, 0xa5);
    expect(r(SCR)).toBe(0xa5);
    w(LCR, 0x5b);
    expect(r(LCR)).toBe(0x5b);
  });

  it('DLAB switches offsets 0/1 to the divisor latch and back, without touching THR/IER', () => {
    const { u, r, w, tx } = make();
    w(IER, 0x05);
    w(LCR, 0x83); // DLAB, 8N1
    w(DLL, 0x01);
    w(DLM, 0x00);
    expect(r(DLL)).toBe(0x01);
    expect(r(DLM)).toBe(0x00);
    expect(u.baudRate).toBe(115200);
    expect(tx).toEqual([]); // the DLL write was not a transmit
    w(LCR, 0x03);
    expect(r(IER)).toBe(0x05);
    w(LCR, 0x83);
    w(DLL, 0x0c);
    expect(u.baudRate).toBe(9600);
  });

  it('transmits THR bytes at once: LSR keeps THRE and TEMT set', () => {
    const { r, w, tx } = make();
    for (const c of 'hi\n') w(THR, c.charCodeAt(0));
    expect(String.fromCharCode(...tx)).toBe('hi\n');
    expect(r(LSR) & 0x60).toBe(0x60);
  });

  it('ignores writes to LSR and MSR (factory test registers)', () => {
    const { r, w } = make();
    w(LSR, 0x1f);
    w(MSR, 0x0f);
    expect(r(LSR)).toBe(0x60);
    expect(r(MSR)).toBe(0xb0);
  });
});

describe('receiver, FIFOs and overrun', () => {
  it('16450 mode: one character, DR until read; host input waits for room instead of overrunning', () => {
    const { u, r, w } = make();
    w(LCR, 0x03);
    expect(u.pushInput([0x61, 0x62])).toBe(2);
    expect(r(LSR) & 0x03).toBe(0x01); // DR, no OE
    expect(u.pendingInput).toBe(1);
    expect(r(RBR)).toBe(0x61);
    expect(r(LSR) & 0x01).toBe(0x01); // the next byte moved in
    expect(r(RBR)).toBe(0x62);
    expect(r(LSR) & 0x01).toBe(0x00);
    expect(r(RBR)).toBe(0x62); // RBR keeps the last character
  });

  it('FIFO mode: 16 bytes, IIR bits 7:6 set, empty RBR reads 0', () => {
    const { u, r, w } = make();
    w(FCR, 0x01);
    expect(r(IIR)).toBe(0xc1);
    u.pushInput(Array.from({ length: 20 }, (_, i) => 0x30 + i));
    expect(u.pendingInput).toBe(4);
    const got: number[] = [];
    while (r(LSR) & 0x01) got.push(r(RBR));
    expect(got).toEqual(Array.from({ length: 20 }, (_, i) => 0x30 + i));
    expect(r(RBR)).toBe(0);
  });

  it('loopback overrun: the 17th byte is lost, OE set until LSR is read, RLS interrupt has top priority', () => {
    const { r, w } = make();
    w(FCR, 0x01);
    w(MCR, 0x10);
    w(IER, 0x07); // RLS, RDA, THRE
    for (let i = 0; i < 17; i++) w(THR, i);
    expect(r(IIR)).toBe(0xc6); // RLS
    expect(r(LSR)).toBe(0x63); // DR | OE | THRE | TEMT
    expect(r(LSR)).toBe(0x61); // OE cleared by the read
    expect(r(IIR)).toBe(0xc4); // RDA (16 >= trigger 1)
    const got: number[] = [];
    while (r(LSR) & 1) got.push(r(RBR));
    expect(got).toEqual(Array.from({ length: 16 }, (_, i) => i));
    expect(r(IIR)).toBe(0xc2); // THRE now
    expect(r(IIR)).toBe(0xc1); // reading IIR cleared THRE
  });

  it('16450 loopback overrun overwrites RBR', () => {
    const { r, w } = make();
    w(MCR, 0x10);
    w(THR, 0x11);
    w(THR, 0x22);
    expect(r(LSR)).toBe(0x63);
    expect(r(RBR)).toBe(0x22);
  });

  it('RDA follows the FCR trigger level (1, 4, 8, 14 bytes)', () => {
    for (const [fcr, level] of [[0x01, 1], [0x41, 4], [0x81, 8], [0xc1, 14]] as const) {
      const { r, w } = make({ clock: () => 0 }); // time stands still: no character timeout
      w(FCR, fcr);
      w(MCR, 0x10);
      w(IER, 0x01);
      for (let i = 0; i < level - 1; i++) w(THR, i);
      expect(r(IIR), `level ${level}`).toBe(0xc1);
      w(THR, 0xff);
      expect(r(IIR), `level ${level}`).toBe(0xc4);
      r(RBR);
      expect(r(IIR), `level ${level}`).toBe(0xc1); // below the trigger level again
    }
  });

  it('FCR bit 1 clears the receive FIFO; toggling FCR bit 0 clears it too', () => {
    const { u, r, w } = make();
    w(FCR, 0x01);
    w(MCR, 0x10);
    w(THR, 1);
    w(THR, 2);
    w(FCR, 0x03);
    expect(r(LSR) & 1).toBe(0);
    w(THR, 3);
    w(FCR, 0x00);
    expect(r(LSR) & 1).toBe(0);
    expect(r(IIR)).toBe(0x01);
    expect(u.registers().rxFifoCount).toBe(0);
  });

  it('host input is not received in loopback and arrives when loopback ends', () => {
    const { u, r, w } = make();
    w(MCR, 0x10);
    u.pushInput([0x41]);
    expect(r(LSR) & 1).toBe(0);
    w(MCR, 0x00);
    expect(r(LSR) & 1).toBe(1);
    expect(r(RBR)).toBe(0x41);
  });

  it('bounds the host input queue', () => {
    const { u } = make();
    const big = new Uint8Array(UART_INPUT_LIMIT + 100);
    const accepted = u.pushInput(big);
    expect(accepted).toBe(UART_INPUT_LIMIT);
    expect(u.inputDropped).toBe(100);
    expect(u.pendingInput).toBe(UART_INPUT_LIMIT - 1); // one byte moved into RBR
  });
});

describe('character timeout (FIFO mode, 4 character times)', () => {
  it('raises CTI only after 4 character times without activity, using the guest clock', () => {
    let now = 0;
    const { u, r, w, irq } = make({ clock: () => now });
    w(LCR, 0x83);
    w(DLL, 1); // 115200 baud
    w(DLM, 0);
    w(LCR, 0x03); // 8N1: 10 bits per character = 86805.5 ns
    w(FCR, 0x81); // trigger 8
    w(MCR, 0x08); // OUT2: IRQ reaches the PIC
    w(IER, 0x01);
    u.pushInput([0x41, 0x42]);
    expect(r(IIR)).toBe(0xc1);
    const due = u.nextDeadline();
    expect(due).toBeCloseTo((4 * 10 * 1e9) / 115200, 3);
    now = (due ?? 0) - 1;
    u.poll();
    expect(u.irq).toBe(false);
    now = due ?? 0;
    u.poll();
    expect(u.irq).toBe(true);
    expect(irq).toEqual([true]);
    expect(r(IIR)).toBe(0xcc);
    expect(r(RBR)).toBe(0x41); // reading RBR resets the timeout
    expect(r(IIR)).toBe(0xc1);
    expect(u.irq).toBe(false);
    now += 4 * 86806;
    expect(r(IIR)).toBe(0xcc);
    expect(r(RBR)).toBe(0x42);
    expect(r(IIR)).toBe(0xc1);
    expect(u.nextDeadline()).toBeNull(); // FIFO empty
  });

  it('without a clock, data below the trigger level is reported as a timeout at once', () => {
    const { u, r, w } = make();
    w(FCR, 0xc1);
    w(IER, 0x01);
    u.pushInput([0x41]);
    expect(r(IIR)).toBe(0xcc);
  });
});

describe('interrupt identification and the IRQ line', () => {
  it('IIR priority: line status > received data > THR empty > modem status (Table IV)', () => {
    const { u, r, w } = make();
    w(FCR, 0x01);
    w(IER, 0x0f);
    u.setModemInputs(0x30); // DCD drops: delta DCD
    expect(r(IIR)).toBe(0xc2); // THRE (raised by enabling ETBEI) beats MS
    expect(r(IIR)).toBe(0xc0); // THRE cleared by that read: modem status
    expect(r(MSR)).toBe(0x38); // CTS|DSR, delta DCD
    expect(r(IIR)).toBe(0xc1);
    w(MCR, 0x10);
    for (let i = 0; i < 17; i++) w(THR, i); // fills the FIFO, overruns, and re-arms THRE
    expect(r(IIR)).toBe(0xc6);
    r(LSR);
    expect(r(IIR)).toBe(0xc4);
    w(FCR, 0x03); // clear RX FIFO (TX reset also re-arms THRE)
    expect(r(IIR)).toBe(0xc2);
  });

  it('enabling ETBEI with THR empty raises THRE each time (Linux UART_BUG_THRE / TXEN tests pass)', () => {
    const { r, w } = make();
    w(IER, 0x02);
    const iir1 = r(IIR);
    w(IER, 0x00);
    w(IER, 0x02);
    const iir2 = r(IIR);
    w(IER, 0x00);
    expect(iir1).toBe(0x02);
    expect(iir2).toBe(0x02);
    // With THRE cleared by the IIR read, it stays cleared while ETBEI stays on.
    w(IER, 0x02);
    r(IIR);
    expect(r(IIR)).toBe(0x01);
    w(THR, 0x41); // a transmit re-arms it
    expect(r(IIR)).toBe(0x02);
  });

  it('the IRQ output is gated by MCR.OUT2 and off in loopback, as on a PC', () => {
    const { u, r, w, irq } = make();
    w(IER, 0x02); // THRE pending
    expect(r(IIR)).toBe(0x02);
    w(IER, 0x00);
    w(IER, 0x02);
    expect(u.irq).toBe(false); // OUT2 off: line held low
    w(MCR, 0x08);
    expect(u.irq).toBe(true);
    w(MCR, 0x18); // loopback forces OUT2 inactive
    expect(u.irq).toBe(false);
    w(MCR, 0x08);
    expect(irq).toEqual([true, false, true]);
  });

  it("'direct' gating drives the line from INTR as QEMU does", () => {
    const { u, w } = make({ irqGate: 'direct' });
    w(IER, 0x02);
    expect(u.irq).toBe(true);
  });

  it('each THR write drops and re-raises the line (a fresh edge for an edge-triggered PIC)', () => {
    const { w, irq } = make();
    w(MCR, 0x08);
    w(IER, 0x02);
    irq.length = 0;
    w(THR, 0x41);
    w(THR, 0x42);
    expect(irq).toEqual([false, true, false, true]);
  });

  it('runs a Linux serial8250_handle_irq() loop: RX chars, then TX until the buffer drains, then stop_tx', () => {
    const { u, r, w, tx } = make();
    // serial8250_do_startup: FIFO 16550A, trigger 8 (UART_FCR_R_TRIG_10), 8N1, OUT2, IER = RLSI | RDI
    w(FCR, 0x01); w(FCR, 0x07); w(FCR, 0x00);
    r(LSR); r(RBR); r(IIR); r(MSR);
    w(LCR, 0x03); w(FCR, 0x81); w(MCR, 0x0b); w(IER, 0x05);
    const typed = [...'hello world, this is more than sixteen bytes\r'].map((c) => c.charCodeAt(0));
    u.pushInput(typed);
    const received: number[] = [];
    let outgoing = [...'echo!'].map((c) => c.charCodeAt(0));
    w(IER, 0x07); // start_tx: enable THRI
    let guard = 0;
    while (u.irq && guard++ < 100) {
      const iir = r(IIR);
      if (iir & 0x01) break;
      const lsr = r(LSR);
      if (lsr & 0x01) {
        let max = 256;
        while (max-- > 0 && r(LSR) & 0x01) received.push(r(RBR));
      }
      r(MSR);
      if (lsr & 0x20 && r(IER) & 0x02) {
        for (let n = 0; n < 16 && outgoing.length > 0; n++) w(THR, outgoing.shift() ?? 0);
        if (outgoing.length === 0) w(IER, 0x05); // __stop_tx
      }
    }
    expect(String.fromCharCode(...received)).toBe(String.fromCharCode(...typed));
    expect(String.fromCharCode(...tx)).toBe('echo!');
    expect(u.irq).toBe(false);
    expect(r(IIR)).toBe(0xc1);
    outgoing = [];
  });
});

describe('loopback modem lines and MSR deltas (§8.7)', () => {
  it('maps DTR->DSR, RTS->CTS, OUT1->RI, OUT2->DCD (Linux autoconfig expects 0x90 for MCR 0x1A)', () => {
    const { r, w } = make();
    w(MCR, 0x1a);
    expect(r(MSR) & 0xf0).toBe(0x90);
    for (const [mcr, msr] of [[0x11, 0x20], [0x12, 0x10], [0x14, 0x40], [0x18, 0x80], [0x1f, 0xf0]] as const) {
      w(MCR, mcr);
      expect(r(MSR) & 0xf0, `MCR ${mcr.toString(16)}`).toBe(msr);
    }
  });

  it('sets delta bits on changes, TERI only on the trailing edge of RI, cleared by reading MSR', () => {
    const { r, w } = make();
    w(MCR, 0x10); // loopback, all outputs off: CTS, DSR, DCD drop
    expect(r(MSR)).toBe(0x0b); // DCTS | DDSR | DDCD
    expect(r(MSR)).toBe(0x00);
    w(MCR, 0x14); // RI rises: no TERI
    expect(r(MSR)).toBe(0x40);
    w(MCR, 0x10); // RI falls: TERI
    expect(r(MSR)).toBe(0x04);
  });

  it('raises the modem-status interrupt when enabled', () => {
    const { u, r, w } = make({ irqGate: 'direct' });
    w(IER, 0x08);
    u.setModemInputs(0xb0 | 0x40); // ring
    expect(r(IIR)).toBe(0x01); // RI rising sets no delta
    u.setModemInputs(0xb0);
    expect(u.irq).toBe(true);
    expect(r(IIR)).toBe(0x00);
    expect(r(MSR)).toBe(0xb4);
    expect(u.irq).toBe(false);
  });
});

describe('multi-byte access, peek and snapshots', () => {
  it('splits word/dword accesses into byte registers, low first; bytes past SCR read 0xFF', () => {
    const { u, w } = make();
    w(SCR, 0x5a);
    w(MCR, 0x0b);
    expect(u.ioRead(COM1_PORT + 4, 4)).toBe(0x5ab0600b);
    expect(u.ioRead(COM1_PORT + 7, 2)).toBe(0xff5a);
    u.ioWrite(COM1_PORT + 2, 2, 0x8301); // FCR = 0x01 then LCR = 0x83
    expect(u.ioRead(COM1_PORT + 2, 2)).toBe(0x83c1);
  });

  it('peek has no side effects', () => {
    const { u, r, w } = make();
    w(MCR, 0x10);
    w(IER, 0x02);
    for (let i = 0; i < 2; i++) w(THR, 0x41 + i); // overrun in 16450 mode
    const before = JSON.stringify(u.saveState());
    for (let off = 0; off < 8; off++) u.ioPeek(COM1_PORT + off, 1);
    u.registers();
    expect(JSON.stringify(u.saveState())).toBe(before);
    expect(r(IIR)).toBe(0x02);
    expect(r(LSR)).toBe(0x63);
  });

  it('a restored snapshot behaves exactly like the original', () => {
    const a = make({ clock: () => 0 });
    a.w(FCR, 0x81);
    a.w(MCR, 0x1b);
    a.w(IER, 0x07);
    for (let i = 0; i < 5; i++) a.w(THR, 0x61 + i);
    a.w(MCR, 0x0b);
    a.u.pushInput([1, 2, 3]);
    a.w(SCR, 0x77);
    const snap = JSON.parse(JSON.stringify(a.u.saveState()));
    const b = make({ clock: () => 0 });
    b.u.loadState(snap);
    expect(b.irq).toEqual([]); // loadState does not call setIrq
    expect(b.u.irq).toBe(a.u.irq);
    const trace = (m: ReturnType<typeof make>) => {
      const out: number[] = [];
      for (let i = 0; i < 12; i++) for (const off of [IIR, LSR, RBR, MSR, SCR]) out.push(m.r(off));
      return out;
    };
    expect(trace(b)).toEqual(trace(a));
  });

  it('rejects malformed snapshots with a typed error and keeps its state', () => {
    const { u, r, w } = make();
    w(SCR, 0x12);
    const good = u.saveState() as Record<string, unknown>;
    for (const bad of [null, [], { ...good, ier: 0x10 }, { ...good, rx: [1, 2, 300] }, { ...good, rx: new Array(17).fill(0) },
      { ...good, rx: [1, 2] /* two bytes with FIFOs off */ }, { ...good, thrIpending: 1 }, { ...good, rxActivity: Infinity }]) {
      expect(() => u.loadState(bad)).toThrow(/^uart: /);
    }
    expect(r(SCR)).toBe(0x12);
  });
});
