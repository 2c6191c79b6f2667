// Session lifecycle: initialize, launch (the CLI's configuration through parseLaunchConfig), configurationDone, restart, terminate, disconnect.
import type { DebugProtocol } from '@vscode/debugprotocol';
import { AdapterError, errorMessage, optBool, optObject, optString } from '../errors.js';
import { capabilities } from '../capabilities.js';
import type { LaunchOptions, SessionContext } from '../context.js';
import type { DisassemblySyntax } from '../protocol.js';
import type { Breakpoints } from './breakpoints.js';
import type { RunControl } from './run.js';

/** A handler's answer plus work to do once the response is sent (events that must follow it). */
export class Reply {
  constructor(readonly body: unknown, readonly after: () => void) {}
}

/** Launch fields the adapter owns; parseLaunchConfig must not see them (it accepts stopOnEntry, trace, cwd itself). */
const ADAPTER_FIELDS = ['disassemblySyntax', 'exitStage'];
const SYNTAXES: DisassemblySyntax[] = ['nasm', 'intel', 'gas'];
const STAGES = ['before', 'after', 'both'] as const;

export class Lifecycle {
  constructor(private readonly ctx: SessionContext, private readonly bps: Breakpoints, private readonly run: RunControl) {}

  initialize(a: Record<string, unknown>): Reply {
    this.ctx.linesStartAt1 = optBool('initialize', a, 'linesStartAt1') ?? true;
    this.ctx.columnsStartAt1 = optBool('initialize', a, 'columnsStartAt1') ?? true;
    this.ctx.progressReporting = optBool('initialize', a, 'supportsProgressReporting') ?? false;
    return new Reply(capabilities(), () => { /* `initialized` follows a successful launch */ });
  }

  /** DAP `launch` (type vmscope). */
  launch(a: Record<string, unknown>): Reply {
    if (this.ctx.target !== null) throw new AdapterError('launch: a guest is already running in this session (use restart)');
    const opts = this.options(a);
    this.start(opts);
    return new Reply(undefined, () => this.ctx.event('initialized'));
  }

  private options(a: Record<string, unknown>): LaunchOptions {
    const cmd = 'launch';
    const syntax = optString(cmd, a, 'disassemblySyntax') ?? 'nasm';
    if (!SYNTAXES.includes(syntax as DisassemblySyntax)) throw new AdapterError(`disassemblySyntax: must be one of ${SYNTAXES.join(', ')}, got ${JSON.stringify(syntax.slice(0, 40))}`);
    const stage = optString(cmd, a, 'exitStage') ?? 'before';
    if (!(STAGES as readonly string[]).includes(stage)) throw new AdapterError(`exitStage: must be one of ${STAGES.join(', ')}, got ${JSON.stringify(stage.slice(0, 40))}`);
    const stopOnEntry = optBool(cmd, a, 'stopOnEntry') ?? false;
    optBool(cmd, a, 'trace');
    const cwd = optString(cmd, a, 'cwd');
    const raw: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(a)) if (!ADAPTER_FIELDS.includes(k)) raw[k] = v;
    return { stopOnEntry, syntax: syntax as DisassemblySyntax, exitStage: stage as LaunchOptions['exitStage'], raw, cwd };
  }

  /** Build the target (parseLaunchConfig's ConfigError names the field; LoadError says what is wrong with the image). */
  private start(opts: LaunchOptions): void {
    try {
      this.ctx.target = this.ctx.host.createTarget({
        config: opts.raw, cwd: opts.cwd, onConsole: (b) => this.ctx.consoleByte(b), exitStage: opts.exitStage,
        // Guest output before the logpoint goes first (it is buffered up to a line).
        log: (text) => { this.ctx.flushConsole(); this.ctx.output('console', text); },
      });
    } catch (e) {
      throw new AdapterError(`launch failed: ${errorMessage(e)}`);
    }
    this.ctx.launch = opts;
    this.ctx.terminated = false;
    this.ctx.stop = null;
  }

  /** DAP `configurationDone`: run, or report the entry stop. */
  configurationDone(): Reply {
    this.ctx.requireTarget();
    this.ctx.configured = true;
    return new Reply(undefined, () => this.go());
  }

  private go(): void {
    if (this.ctx.launch?.stopOnEntry) this.run.reportEntry();
    else this.run.continue();
  }

  /** DAP `restart`: a fresh machine from the (possibly updated) launch configuration, breakpoints kept. */
  restart(a: Record<string, unknown>): Reply {
    const prev = this.ctx.launch;
    if (prev === null) throw new AdapterError('restart: nothing was launched');
    const next = optObject('restart', a, 'arguments');
    const opts = next !== undefined ? this.options(next) : prev;
    this.run.cancel();
    const old = this.ctx.target;
    this.ctx.target = null;
    try {
      this.start(opts);
    } catch (e) {
      this.ctx.target = old;
      throw e;
    }
    this.bps.reapply();
    return new Reply(undefined, () => { if (this.ctx.configured) this.go(); });
  }

  /** DAP `terminate`: end the guest; the client disconnects afterwards. */
  terminate(): Reply {
    this.run.cancel();
    return new Reply(undefined, () => {
      if (!this.ctx.terminated) { this.ctx.terminated = true; this.ctx.event('terminated'); }
    });
  }

  /** DAP `disconnect`: stop everything; the stdio adapter exits after answering. */
  disconnect(shutdown: () => void): Reply {
    this.run.cancel();
    this.ctx.flushConsole();
    return new Reply(undefined, shutdown);
  }
}

export type InitializeBody = DebugProtocol.InitializeResponse['body'];
