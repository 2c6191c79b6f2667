// Session state shared by the services: the target, the current stop, variable handles and the event sink.
import type { DebugProtocol } from '@vscode/debugprotocol';
import type { StopInfo } from '../emulator/debug/api.js';
import { AdapterError } from './errors.js';
import type { DisassemblySyntax } from './protocol.js';
import type { AdapterHost, Target, TargetValue } from './target.js';

/** The one thread: vCPU 0 (DAP threads are vCPUs). */
export const THREAD_ID = 1;

/** A container in the Variables view: its children, and how to change one of them. */
export interface VariableContainer {
  children(): TargetValue[];
}

/** Variable references, valid until the debuggee runs again (DAP "Lifetime of Objects References"). */
export class VariableStore {
  private items: VariableContainer[] = [];
  add(c: VariableContainer): number {
    this.items.push(c);
    return this.items.length; // references start at 1 (0 means "no children")
  }
  get(ref: number): VariableContainer {
    const c = this.items[ref - 1];
    if (c === undefined) throw new AdapterError(`variablesReference ${ref} is not valid (the values were refreshed: ask for scopes again)`);
    return c;
  }
  clear(): void {
    this.items = [];
  }
}

export interface LaunchOptions {
  stopOnEntry: boolean;
  syntax: DisassemblySyntax;
  exitStage: 'before' | 'after' | 'both';
  raw: Record<string, unknown>;
  cwd: string | undefined;
}

export class SessionContext {
  target: Target | null = null;
  launch: LaunchOptions | null = null;
  /** Where the debuggee is stopped (null while it runs or before configurationDone). */
  stop: StopInfo | null = null;
  running = false;
  configured = false;
  terminated = false;
  readonly vars = new VariableStore();
  /** The client's line and column bases (initialize: linesStartAt1, columnsStartAt1; default 1). */
  linesStartAt1 = true;
  columnsStartAt1 = true;
  /** The client shows progress events (initialize: supportsProgressReporting). */
  progressReporting = false;
  /** Guest console bytes not yet sent as an output event. */
  private console: number[] = [];

  constructor(readonly host: AdapterHost, readonly send: (e: DebugProtocol.Event) => void) {}

  /** A 1-based line (DWARF 5 §6.2.2 numbers lines from 1) in the client's base, and back. */
  lineOut(line: number): number { return this.linesStartAt1 ? line : line - 1; }
  lineIn(line: number): number { return this.linesStartAt1 ? line : line + 1; }
  columnOut(col: number): number { return this.columnsStartAt1 ? col : Math.max(0, col - 1); }

  requireTarget(): Target {
    if (this.target === null) throw new AdapterError('no guest is running: launch one first');
    return this.target;
  }

  /** The target, which must be stopped (inspection requests). */
  requireStopped(): Target {
    const t = this.requireTarget();
    if (this.running) throw new AdapterError('the guest is running: pause it first');
    return t;
  }

  event(event: string, body?: unknown): void {
    this.send({ seq: 0, type: 'event', event, ...(body !== undefined ? { body } : {}) } as DebugProtocol.Event);
  }

  output(category: 'console' | 'stdout' | 'stderr' | 'important', text: string): void {
    this.event('output', { category, output: text });
  }

  consoleByte(b: number): void {
    this.console.push(b);
    if (b === 0x0a || this.console.length >= 4096) this.flushConsole();
  }

  /** Send buffered guest output (stdout) and hypervisor notes (console). */
  flushConsole(): void {
    if (this.console.length > 0) {
      const text = new TextDecoder('utf-8').decode(new Uint8Array(this.console));
      this.console = [];
      this.output('stdout', text);
    }
    const t = this.target;
    if (t !== null) for (const n of t.takeNotes()) this.output('console', `[hypervisor] ${n}\n`);
  }

  checkThread(args: Record<string, unknown>, cmd: string): void {
    const id = args.threadId;
    if (id === undefined) return;
    if (id !== THREAD_ID) throw new AdapterError(`${cmd}: unknown threadId ${JSON.stringify(id)} (vCPU 0 is thread ${THREAD_ID})`);
  }
}
