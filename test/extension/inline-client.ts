// A DAP client over an inline session (createSession(nodeHost()) in this process, as the extension runs it by default): requests by seq, events by name.
import type { DebugProtocol } from '@vscode/debugprotocol';
import { createSession } from '../../debug-adapter/session.js';
import { nodeHost } from '../../debug-adapter/node-host.js';
import type { Requester } from '../../extension/src/model/node.js';

/** The parts of vscode.DebugAdapter an inline implementation offers (what DebugAdapterInlineImplementation wraps). */
export interface InlineAdapter {
  handleMessage(m: DebugProtocol.ProtocolMessage): void;
  onDidSendMessage(listener: (m: DebugProtocol.ProtocolMessage) => void): unknown;
}

export class InlineClient implements Requester {
  private seq = 1;
  private readonly pending = new Map<number, { resolve: (b: unknown) => void; reject: (e: Error) => void }>();
  readonly events: DebugProtocol.Event[] = [];
  private readonly waiters: Array<{ event: string; after: number; resolve: (e: DebugProtocol.Event) => void }> = [];
  output = '';
  /** Requests sent, by command (to check caching). */
  readonly sent: string[] = [];

  constructor(readonly adapter: InlineAdapter = createSession(nodeHost({ trace: () => undefined })) as unknown as InlineAdapter) {
    adapter.onDidSendMessage((m) => {
      if (m.type === 'response') {
        const r = m as DebugProtocol.Response;
        const p = this.pending.get(r.request_seq);
        if (p === undefined) return;
        this.pending.delete(r.request_seq);
        if (r.success) p.resolve(r.body);
        else p.reject(new Error(r.message ?? 'request failed'));
      } else if (m.type === 'event') {
        const e = m as DebugProtocol.Event;
        this.events.push(e);
        if (e.event === 'output' && (e.body as { category?: string }).category === 'stdout') this.output += (e.body as { output: string }).output;
        for (const w of [...this.waiters]) {
          if (w.event === e.event && this.events.length - 1 >= w.after) { this.waiters.splice(this.waiters.indexOf(w), 1); w.resolve(e); }
        }
      }
    });
  }

  customRequest(command: string, args?: unknown): Promise<any> {
    const seq = this.seq++;
    this.sent.push(command);
    return new Promise((resolve, reject) => {
      this.pending.set(seq, { resolve, reject });
      this.adapter.handleMessage({ seq, type: 'request', command, arguments: args } as DebugProtocol.Request);
    });
  }

  /** The next `event` sent after this call. */
  next(event: string, timeoutMs = 60_000): Promise<DebugProtocol.Event> {
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no ${event} event within ${timeoutMs} ms`)), timeoutMs);
      this.waiters.push({ event, after: this.events.length, resolve: (e) => { clearTimeout(t); resolve(e); } });
    });
  }

  /** initialize, launch, exception filters, configurationDone; resolves at the first stop (or end). */
  async start(launch: Record<string, unknown>, filters: Array<{ filterId: string; condition?: string }> = []): Promise<DebugProtocol.Event> {
    await this.customRequest('initialize', { adapterID: 'vmscope', linesStartAt1: true, columnsStartAt1: true, pathFormat: 'path' });
    const init = this.next('initialized');
    await this.customRequest('launch', launch);
    await init;
    await this.customRequest('setExceptionBreakpoints', { filters: [], filterOptions: filters });
    const stop = Promise.race([this.next('stopped'), this.next('terminated')]);
    await this.customRequest('configurationDone', {});
    return stop;
  }
}
