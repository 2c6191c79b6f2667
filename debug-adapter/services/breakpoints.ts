// Breakpoints: source lines (DWARF line table), functions (ELF symbols), instructions, VM-exit filters, data; logpoints.
import type { DebugProtocol } from '@vscode/debugprotocol';
import type { BreakpointResult, DataBreakpointSpec, ExitFilterSpec, SourceBreakpointSpec, StopInfo } from '../../emulator/debug/api.js';
import { AdapterError, elementObject, optArray, optInt, optString, reqInt, reqString } from '../errors.js';
import { hex, parseReference, addAddress } from '../format.js';
import type { SessionContext } from '../context.js';
import { EXIT_FILTER_REASONS } from '../protocol.js';

/** Lines a source breakpoint may move down to find code (a comment or blank line). */
const LINE_SLIDE = 20;

interface CodeBreakpoint {
  dapId: number;
  /** Which request owns it: a source path, 'function' or 'instruction'. */
  owner: string;
  spec: SourceBreakpointSpec | null;
  /** Why it is unverified (no code at the line, unknown symbol, bad condition). */
  message?: string;
  logMessage?: string;
  line?: number;
  source?: DebugProtocol.Source;
  instructionReference?: string;
}

export class Breakpoints {
  private nextId = 1;
  private code: CodeBreakpoint[] = [];
  /** Debuggee breakpoint id → the DAP breakpoint. */
  private byDebuggeeId = new Map<number, CodeBreakpoint>();
  private exitArgs: Record<string, unknown> | null = null;
  private dataArgs: Record<string, unknown> | null = null;

  constructor(private readonly ctx: SessionContext) {}

  /** DAP `setBreakpoints`: lines of one source file. */
  setBreakpoints(a: Record<string, unknown>): DebugProtocol.SetBreakpointsResponse['body'] {
    const cmd = 'setBreakpoints';
    const source = a.source;
    if (typeof source !== 'object' || source === null || Array.isArray(source)) throw new AdapterError(`${cmd}: 'source' is required and must be an object`);
    const src = source as Record<string, unknown>;
    const path = optString(cmd, src, 'path') ?? optString(cmd, src, 'name');
    if (path === undefined) throw new AdapterError(`${cmd}: 'source.path' is required`);
    let wanted = optArray(cmd, a, 'breakpoints');
    if (wanted === undefined) wanted = (optArray(cmd, a, 'lines') ?? []).map((line) => ({ line }));
    const t = this.ctx.requireTarget();
    const list: CodeBreakpoint[] = wanted.map((raw, i) => {
      const b = elementObject(cmd, 'breakpoints', i, raw);
      const line = this.ctx.lineIn(reqInt(cmd, b, 'line'));
      const bp = this.newCode(`source:${path}`, b);
      bp.source = { name: basename(path), path };
      let addrs: number[] = [];
      let at = line;
      for (; at <= line + LINE_SLIDE && addrs.length === 0; at++) addrs = t.addressesForLine(path, at);
      at--;
      if (addrs.length === 0) {
        bp.line = line;
        bp.message = `no code at ${basename(path)}:${line} in the image's line table`;
      } else {
        bp.line = at;
        bp.spec = { ...bp.spec!, address: addrs[0] };
        bp.instructionReference = hex(addrs[0]);
      }
      return bp;
    });
    return { breakpoints: this.replace(`source:${path}`, list).map((b) => (b.line !== undefined ? { ...b, line: this.ctx.lineOut(b.line) } : b)) };
  }

  /** DAP `setFunctionBreakpoints`: ELF symbols (or an address). */
  setFunctionBreakpoints(a: Record<string, unknown>): DebugProtocol.SetFunctionBreakpointsResponse['body'] {
    const cmd = 'setFunctionBreakpoints';
    const t = this.ctx.requireTarget();
    const list = (optArray(cmd, a, 'breakpoints') ?? []).map((raw, i) => {
      const b = elementObject(cmd, 'breakpoints', i, raw);
      const name = reqString(cmd, b, 'name').trim();
      const bp = this.newCode('function', b);
      let address = t.symbolByName(name);
      if (address === undefined && /^(0x[0-9a-f]+|[0-9]+)$/i.test(name)) address = parseReference(name).address;
      if (address === undefined) bp.message = `no symbol named ${JSON.stringify(name.slice(0, 80))} in the image`;
      else { bp.spec = { ...bp.spec!, address }; bp.instructionReference = hex(address); }
      return bp;
    });
    return { breakpoints: this.replace('function', list) };
  }

  /** DAP `setInstructionBreakpoints`: instructionReference + offset. */
  setInstructionBreakpoints(a: Record<string, unknown>): DebugProtocol.SetInstructionBreakpointsResponse['body'] {
    const cmd = 'setInstructionBreakpoints';
    this.ctx.requireTarget();
    const list = (optArray(cmd, a, 'breakpoints') ?? []).map((raw, i) => {
      const b = elementObject(cmd, 'breakpoints', i, raw);
      const ref = parseReference(reqString(cmd, b, 'instructionReference'));
      if (ref.physical) throw new AdapterError(`${cmd}: instruction breakpoints take guest-virtual addresses`);
      const address = addAddress(ref.address, optInt(cmd, b, 'offset') ?? 0);
      const bp = this.newCode('instruction', b);
      bp.spec = { ...bp.spec!, address };
      bp.instructionReference = hex(address);
      return bp;
    });
    return { breakpoints: this.replace('instruction', list) };
  }

  private newCode(owner: string, b: Record<string, unknown>): CodeBreakpoint {
    const cmd = 'breakpoint';
    const condition = optString(cmd, b, 'condition');
    const hitCondition = optString(cmd, b, 'hitCondition');
    const logMessage = optString(cmd, b, 'logMessage');
    const bp: CodeBreakpoint = { dapId: this.nextId++, owner, spec: null, logMessage };
    // The spec's address is filled in once known; `spec` stays null for unverified breakpoints.
    // Logpoints are the debuggee's too: it prints them (going forward) and knows they never stop (reverse continue).
    bp.spec = { address: 0, ...(nonEmpty(condition) ? { condition } : {}), ...(nonEmpty(hitCondition) ? { hitCondition } : {}), ...(logMessage !== undefined ? { logMessage } : {}) };
    if (nonEmpty(condition)) {
      const err = this.ctx.requireTarget().checkCondition(condition!);
      if (err !== null) bp.message = `condition: ${err}`;
    }
    return bp;
  }

  /** Replace one owner's breakpoints and hand the whole set to the debuggee. */
  private replace(owner: string, list: CodeBreakpoint[]): DebugProtocol.Breakpoint[] {
    for (const b of list) if (b.message !== undefined) b.spec = null;
    this.code = [...this.code.filter((b) => b.owner !== owner), ...list];
    const results = this.apply();
    return list.map((b) => toDap(b, results.get(b.dapId)));
  }

  /** Send every code breakpoint to the debuggee (after a change, or to a new target on restart). */
  apply(): Map<number, BreakpointResult> {
    const t = this.ctx.target;
    const out = new Map<number, BreakpointResult>();
    this.byDebuggeeId.clear();
    if (t === null) return out;
    const live = this.code.filter((b) => b.spec !== null && b.spec.address !== undefined && b.message === undefined);
    const results = t.debuggee.setInstructionBreakpoints(live.map((b) => b.spec!));
    live.forEach((b, i) => {
      const r = results[i];
      if (r === undefined) return;
      out.set(b.dapId, r);
      this.byDebuggeeId.set(r.id, b);
    });
    return out;
  }

  /** DAP `setExceptionBreakpoints`: `vmexit` / `vmexit.<REASON>` filters, conditions through filterOptions. */
  setExceptionBreakpoints(a: Record<string, unknown>): DebugProtocol.SetExceptionBreakpointsResponse['body'] {
    const cmd = 'setExceptionBreakpoints';
    const t = this.ctx.requireTarget();
    const filters = (optArray(cmd, a, 'filters') ?? []).map((f, i) => {
      if (typeof f !== 'string') throw new AdapterError(`${cmd}: 'filters[${i}]' must be a string`);
      return { filterId: f } as { filterId: string; condition?: string };
    });
    const options = (optArray(cmd, a, 'filterOptions') ?? []).map((raw, i) => {
      const o = elementObject(cmd, 'filterOptions', i, raw);
      return { filterId: reqString(cmd, o, 'filterId'), condition: optString(cmd, o, 'condition') };
    });
    this.exitArgs = a;
    const all = [...filters, ...options];
    const known = new Set(['vmexit', ...EXIT_FILTER_REASONS.map((r) => `vmexit.${r}`)]);
    const specs: ExitFilterSpec[] = [];
    const checks: (string | null)[] = [];
    for (const f of all) {
      let err: string | null = known.has(f.filterId) ? null : `unknown exception filter ${JSON.stringify(f.filterId.slice(0, 60))}`;
      if (err === null && nonEmpty(f.condition)) err = t.checkCondition(f.condition!, f.filterId);
      checks.push(err);
      if (err === null) specs.push({ filter: f.filterId, ...(nonEmpty(f.condition) ? { condition: f.condition } : {}) });
    }
    const results = t.debuggee.setExitFilters(specs, this.ctx.launch?.exitStage ?? 'before');
    let k = 0;
    const breakpoints = checks.map((err) => {
      if (err !== null) return { verified: false, message: err };
      const r = results[k++];
      return { verified: r?.verified ?? true, ...(r?.message ? { message: r.message } : {}) };
    });
    return { breakpoints };
  }

  /** DAP `dataBreakpointInfo`: a variable with an address, or an expression giving one. */
  dataBreakpointInfo(a: Record<string, unknown>): DebugProtocol.DataBreakpointInfoResponse['body'] {
    const cmd = 'dataBreakpointInfo';
    const t = this.ctx.requireTarget();
    const name = reqString(cmd, a, 'name');
    const ref = optInt(cmd, a, 'variablesReference');
    const asAddress = a.asAddress === true;
    let address: number | undefined;
    let physical = false;
    let size = optInt(cmd, a, 'bytes') ?? 8;
    if (asAddress || /^(phys:)?(0x[0-9a-f]+|[0-9]+)$/i.test(name.trim())) {
      const p = parseReference(name);
      address = p.address; physical = p.physical;
    } else if (ref !== undefined && ref > 0) {
      const v = this.ctx.vars.get(ref).children().find((c) => c.name === name);
      if (v?.address !== undefined) address = v.address;
    } else {
      try {
        const r = t.evaluate(name, this.ctx.stop);
        if (r.number !== undefined) address = Number(BigInt.asIntN(64, r.number));
      } catch { /* not an expression: no data breakpoint */ }
    }
    if (address === undefined) return { dataId: null, description: `${name} has no address to watch` };
    if (size < 1 || size > 4096) size = 8;
    const id = `${physical ? 'phys:' : ''}${hex(address)}/${size}`;
    return { dataId: id, description: `${size} bytes at ${physical ? 'guest-physical ' : ''}${hex(address)}`, accessTypes: ['read', 'write', 'readWrite'], canPersist: true };
  }

  /** DAP `setDataBreakpoints`. */
  setDataBreakpoints(a: Record<string, unknown>): DebugProtocol.SetDataBreakpointsResponse['body'] {
    const cmd = 'setDataBreakpoints';
    const t = this.ctx.requireTarget();
    this.dataArgs = a;
    const specs: DataBreakpointSpec[] = [];
    const errs: (string | null)[] = [];
    for (const [i, raw] of (optArray(cmd, a, 'breakpoints') ?? []).entries()) {
      const b = elementObject(cmd, 'breakpoints', i, raw);
      const dataId = reqString(cmd, b, 'dataId');
      const m = /^(phys:)?(0x[0-9a-f]+)\/([0-9]+)$/i.exec(dataId);
      const access = optString(cmd, b, 'accessType') ?? 'write';
      if (m === null) { errs.push(`not a vmscope data breakpoint id: ${JSON.stringify(dataId.slice(0, 40))}`); continue; }
      if (access !== 'read' && access !== 'write' && access !== 'readWrite') { errs.push(`accessType must be read, write or readWrite`); continue; }
      const condition = optString(cmd, b, 'condition');
      const err = nonEmpty(condition) ? t.checkCondition(condition!) : null;
      if (err !== null) { errs.push(`condition: ${err}`); continue; }
      errs.push(null);
      specs.push({ address: parseReference(m[1] !== undefined ? `phys:${m[2]}` : m[2]).address, size: Number(m[3]), physical: m[1] !== undefined, access, ...(nonEmpty(condition) ? { condition } : {}) });
    }
    const results = t.debuggee.setDataBreakpoints(specs);
    let k = 0;
    return {
      breakpoints: errs.map((err) => {
        if (err !== null) return { verified: false, message: err };
        const r = results[k++];
        return { id: r?.id, verified: r?.verified ?? false, ...(r?.message ? { message: r.message } : {}) };
      }),
    };
  }

  /** Re-apply every breakpoint to a new target (restart). */
  reapply(): void {
    this.apply();
    if (this.exitArgs !== null) this.setExceptionBreakpoints(this.exitArgs);
    if (this.dataArgs !== null) this.setDataBreakpoints(this.dataArgs);
  }

  /** DAP ids of the debuggee's breakpoint ids (data breakpoints keep the debuggee's ids). */
  dapIds(ids: number[]): number[] {
    return ids.map((id) => this.byDebuggeeId.get(id)?.dapId ?? id);
  }

  /** Every breakpoint that caused this stop is a logpoint: print and keep running. */
  isLogpointOnly(s: StopInfo): boolean {
    const ids = s.hitBreakpointIds ?? [];
    if (s.reason !== 'breakpoint' || ids.length === 0) return false;
    return ids.every((id) => this.byDebuggeeId.get(id)?.logMessage !== undefined);
  }

  emitLogpoints(s: StopInfo): void {
    const t = this.ctx.requireTarget();
    for (const id of s.hitBreakpointIds ?? []) {
      const bp = this.byDebuggeeId.get(id);
      if (bp?.logMessage === undefined) continue;
      let text: string;
      try { text = t.formatLogMessage(bp.logMessage, s); } catch (e) { text = `${bp.logMessage} (${e instanceof Error ? e.message : String(e)})`; }
      this.ctx.output('console', `${text}\n`);
    }
  }
}

function toDap(b: CodeBreakpoint, r: BreakpointResult | undefined): DebugProtocol.Breakpoint {
  const verified = b.message === undefined && (r?.verified ?? false);
  const message = b.message ?? r?.message;
  return {
    id: b.dapId,
    verified,
    ...(message !== undefined ? { message } : {}),
    ...(b.source !== undefined ? { source: b.source } : {}),
    ...(b.line !== undefined ? { line: b.line } : {}),
    ...(b.instructionReference !== undefined ? { instructionReference: b.instructionReference } : {}),
  };
}

function nonEmpty(s: string | undefined): boolean {
  return s !== undefined && s.trim().length > 0;
}

function basename(p: string): string {
  const i = Math.max(p.lastIndexOf('/'), p.lastIndexOf('\\'));
  return i < 0 ? p : p.slice(i + 1);
}
