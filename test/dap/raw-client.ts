// A minimal DAP client for transcript tests: frames messages over a stream pair, records every message in order.
import { spawn, type ChildProcess } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import type { DebugProtocol } from '@vscode/debugprotocol';

export type Message = DebugProtocol.ProtocolMessage & Record<string, unknown>;

export class RawClient {
  readonly log: Message[] = [];
  private seq = 1;
  private buf = Buffer.alloc(0);
  private waiters: { test: (m: Message) => boolean; done: (m: Message) => void }[] = [];
  private proc: ChildProcess | null = null;

  constructor(private readonly input: Readable, private readonly output: Writable) {
    input.on('data', (d: Buffer) => this.data(d));
  }

  static spawn(adapter: string): RawClient {
    const p = spawn('node', [adapter], { stdio: ['pipe', 'pipe', 'inherit'] });
    const c = new RawClient(p.stdout!, p.stdin!);
    c.proc = p;
    return c;
  }

  private data(d: Buffer): void {
    this.buf = Buffer.concat([this.buf, d]);
    for (;;) {
      const head = this.buf.indexOf('\r\n\r\n');
      if (head < 0) return;
      const m = /Content-Length: (\d+)/i.exec(this.buf.subarray(0, head).toString('ascii'));
      if (m === null) throw new Error('bad frame');
      const len = Number(m[1]);
      if (this.buf.length < head + 4 + len) return;
      const msg = JSON.parse(this.buf.subarray(head + 4, head + 4 + len).toString('utf8')) as Message;
      this.buf = this.buf.subarray(head + 4 + len);
      this.log.push(msg);
      for (const w of [...this.waiters]) if (w.test(msg)) { this.waiters.splice(this.waiters.indexOf(w), 1); w.done(msg); }
    }
  }

  /** Send raw JSON (for malformed messages) and wait for the response to its seq. */
  sendRaw(obj: Record<string, unknown>): Promise<DebugProtocol.Response> {
    const seq = this.seq++;
    const msg = { seq, type: 'request', ...obj };
    this.log.push(msg as Message);
    const body = Buffer.from(JSON.stringify(msg), 'utf8');
    this.output.write(`Content-Length: ${body.length}\r\n\r\n`);
    this.output.write(body);
    return this.waitFor((m) => m.type === 'response' && (m as unknown as DebugProtocol.Response).request_seq === seq, 20_000, `the response to ${String(obj.command)}`) as unknown as Promise<DebugProtocol.Response>;
  }

  /** Write one frame with an arbitrary body (not necessarily JSON). */
  writeFrame(text: string): void {
    const body = Buffer.from(text, 'utf8');
    this.output.write(`Content-Length: ${body.length}\r\n\r\n`);
    this.output.write(body);
  }

  request(command: string, args?: unknown): Promise<DebugProtocol.Response> {
    return this.sendRaw(args === undefined ? { command } : { command, arguments: args });
  }

  waitFor(test: (m: Message) => boolean, timeout = 20_000, what = 'a message'): Promise<Message> {
    const seen = this.log.find((m) => test(m) && !this.consumed.has(m));
    if (seen) { this.consumed.add(seen); return Promise.resolve(seen); }
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`timeout waiting for ${what}; last messages: ${this.log.slice(-6).map((m) => JSON.stringify(m).slice(0, 200)).join('\n')}`)), timeout);
      this.waiters.push({ test, done: (m) => { clearTimeout(t); this.consumed.add(m); resolve(m); } });
    });
  }

  private consumed = new Set<Message>();

  event(name: string): Promise<Message> {
    return this.waitFor((m) => m.type === 'event' && m.event === name, 20_000, `event ${name}`);
  }

  close(): void {
    this.proc?.kill();
  }
}
