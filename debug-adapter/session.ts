// The vmscope debug session: a routing table of one-line request handlers over small services, and one error path.
import { DebugSession, Response } from '@vscode/debugadapter';
import type { DebugProtocol } from '@vscode/debugprotocol';
import { AdapterError, argsObject, errorMessage, optString } from './errors.js';
import { SessionContext } from './context.js';
import { CUSTOM_REQUESTS } from './protocol.js';
import type { AdapterHost } from './target.js';
import { Breakpoints } from './services/breakpoints.js';
import { RunControl } from './services/run.js';
import { StateService } from './services/state.js';
import { MemoryService } from './services/memory.js';
import { ConsoleService } from './services/console.js';
import { Lifecycle, Reply } from './services/lifecycle.js';

type Handler = (args: Record<string, unknown>) => unknown;

/** How @vscode/debugadapter's protocol server begins the 'error' event of a frame it could not parse or handle. */
const DATA_ERROR = 'Error handling data: ';

export class VmscopeSession extends DebugSession {
  private readonly ctx: SessionContext;
  private readonly routes: Record<string, Handler>;

  constructor(private readonly host: AdapterHost) {
    super();
    this.ctx = new SessionContext(host, (e) => this.sendEvent(e));
    // The base session ends the process 100 ms after any 'error' event, and its protocol server raises one for a frame
    // that is not JSON or whose message made handleMessage throw: one malformed frame from a client would end the
    // session shortly after. Say what could not be handled and go on serving; stream errors still end it.
    this.removeAllListeners('error');
    this.on('error', (e: DebugProtocol.Event) => {
      const what = typeof e?.body === 'string' ? e.body : '';
      if (what.startsWith(DATA_ERROR)) this.ctx.output('stderr', `vmscope: ignored a message it could not handle (${what.slice(DATA_ERROR.length).slice(0, 200)})\n`);
      else this.shutdown();
    });
    const ctx = this.ctx;
    const bps = new Breakpoints(ctx);
    const run = new RunControl(ctx, bps);
    const state = new StateService(ctx);
    const mem = new MemoryService(ctx);
    const con = new ConsoleService(ctx);
    const life = new Lifecycle(ctx, bps, run);
    const granularity = (a: Record<string, unknown>) => optString('step', a, 'granularity');
    // One line per request (DAP specification, "Requests").
    this.routes = {
      initialize: (a) => life.initialize(a),
      launch: (a) => life.launch(a),
      attach: () => { throw new AdapterError('attach is not supported: vmscope launches its guests'); },
      configurationDone: () => life.configurationDone(),
      restart: (a) => life.restart(a),
      terminate: () => life.terminate(),
      disconnect: () => life.disconnect(() => this.shutdown()),
      setBreakpoints: (a) => bps.setBreakpoints(a),
      setFunctionBreakpoints: (a) => bps.setFunctionBreakpoints(a),
      setInstructionBreakpoints: (a) => bps.setInstructionBreakpoints(a),
      setExceptionBreakpoints: (a) => bps.setExceptionBreakpoints(a),
      dataBreakpointInfo: (a) => bps.dataBreakpointInfo(a),
      setDataBreakpoints: (a) => bps.setDataBreakpoints(a),
      continue: (a) => { ctx.checkThread(a, 'continue'); run.continue(); return { allThreadsContinued: true }; },
      pause: (a) => { ctx.checkThread(a, 'pause'); run.pause(); },
      next: (a) => { ctx.checkThread(a, 'next'); run.step('next', granularity(a)); },
      stepIn: (a) => { ctx.checkThread(a, 'stepIn'); run.step('stepIn', granularity(a)); },
      stepOut: (a) => { ctx.checkThread(a, 'stepOut'); run.stepOut(); },
      stepBack: (a) => { ctx.checkThread(a, 'stepBack'); run.stepBack(granularity(a)); },
      reverseContinue: (a) => { ctx.checkThread(a, 'reverseContinue'); run.reverseContinue(); },
      gotoTargets: (a) => run.gotoTargets(a),
      goto: (a) => run.gotoTarget(a),
      threads: () => state.threads(),
      stackTrace: (a) => state.stackTrace(a),
      scopes: (a) => state.scopes(a),
      variables: (a) => state.variables(a),
      setVariable: (a) => state.setVariable(a),
      exceptionInfo: (a) => state.exceptionInfo(a),
      readMemory: (a) => mem.readMemory(a),
      writeMemory: (a) => mem.writeMemory(a),
      disassemble: (a) => mem.disassemble(a),
      evaluate: (a) => con.evaluate(a),
      [CUSTOM_REQUESTS.vmcs]: (a) => con.vmcs(a),
      [CUSTOM_REQUESTS.ept]: (a) => con.ept(a),
      [CUSTOM_REQUESTS.pageWalk]: (a) => con.pageWalk(a),
      [CUSTOM_REQUESTS.virtio]: () => con.virtio(),
      [CUSTOM_REQUESTS.exits]: (a) => con.exits(a),
      [CUSTOM_REQUESTS.stepToExit]: (a) => { ctx.checkThread(a, 'vmscope/stepToExit'); run.stepToExit(); },
      [CUSTOM_REQUESTS.gotoExit]: (a) => run.gotoExit(a),
      [CUSTOM_REQUESTS.history]: () => run.history(),
    };
  }

  /** Every message: one that is not a JSON object (null, a number, a string, an array) is reported and ignored (DAP "Base Protocol": messages are objects). */
  override handleMessage(msg: DebugProtocol.ProtocolMessage): void {
    if (typeof msg !== 'object' || msg === null || Array.isArray(msg)) {
      this.ctx.output('stderr', `vmscope: ignored a message that is not a JSON object (${JSON.stringify(msg)?.slice(0, 60) ?? typeof msg})\n`);
      return;
    }
    super.handleMessage(msg);
  }

  /** Every request goes through here: route, answer, and turn any failure into `success: false`. */
  protected override dispatchRequest(request: DebugProtocol.Request): void {
    const command = typeof request?.command === 'string' ? request.command : '';
    const response: DebugProtocol.Response = new Response(request);
    if (this.ctx.launch?.raw.trace === true) this.trace(`→ ${JSON.stringify(request)}`);
    let answer: unknown;
    try {
      const handler = Object.prototype.hasOwnProperty.call(this.routes, command) ? this.routes[command] : undefined;
      if (handler === undefined) throw new AdapterError(`unknown request ${JSON.stringify(command.slice(0, 60))}`, 1001);
      answer = handler(argsObject(command, request.arguments));
    } catch (e) {
      this.fail(response, e);
      return;
    }
    // A long request (vmscope/gotoExit re-executing history) answers later; other requests are served meanwhile.
    if (answer instanceof Promise) answer.then((b) => this.answer(response, b), (e) => this.fail(response, e));
    else this.answer(response, answer);
  }

  private answer(response: DebugProtocol.Response, body: unknown): void {
    let after: (() => void) | null = null;
    if (body instanceof Reply) { after = body.after; body = body.body; }
    if (body !== undefined) response.body = body;
    this.sendResponse(response);
    if (after !== null) this.afterwards(after);
  }

  private afterwards(after: () => void): void {
    try { after(); } catch (e) { this.ctx.output('stderr', `vmscope: ${errorMessage(e)}\n`); }
  }

  private fail(response: DebugProtocol.Response, e: unknown): void {
    const known = e instanceof AdapterError;
    // The emulator's typed errors (ViewError, ConfigError, LoadError) carry user-facing messages; host bugs are labelled.
    const bug = !known && (!(e instanceof Error) || e instanceof TypeError || e instanceof RangeError || e instanceof ReferenceError || e.constructor === Error);
    const message = bug ? `internal error: ${errorMessage(e)}` : errorMessage(e);
    response.success = false;
    response.message = message;
    response.body = { error: { id: known ? e.id : bug ? 1999 : 1002, format: message.replace(/[{}]/g, (c) => (c === '{' ? '(' : ')')), showUser: true } };
    this.sendResponse(response);
    if (known && e.after !== undefined) this.afterwards(e.after);
  }

  override sendResponse(response: DebugProtocol.Response): void {
    if (this.ctx.launch?.raw.trace === true) this.trace(`← ${JSON.stringify(response)}`);
    super.sendResponse(response);
  }

  override sendEvent(event: DebugProtocol.Event): void {
    if (this.ctx.launch?.raw.trace === true && event.event !== 'output') this.trace(`← ${JSON.stringify(event)}`);
    super.sendEvent(event);
  }

  private trace(line: string): void {
    this.host.trace?.(line.length > 2000 ? `${line.slice(0, 2000)}…` : line);
  }
}

/** A session for a host (the Node process, the extension host inline, a browser worker). */
export function createSession(host: AdapterHost): VmscopeSession {
  return new VmscopeSession(host);
}
