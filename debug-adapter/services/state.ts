// State requests: threads, stackTrace (hypervisor frame, guest frames via RBP chains), scopes, variables, setVariable, exceptionInfo.
import type { DebugProtocol } from '@vscode/debugprotocol';
import { AdapterError, optInt, reqInt, reqString } from '../errors.js';
import { hex, memoryReference, parseUserNumber } from '../format.js';
import { THREAD_ID, type SessionContext } from '../context.js';
import { withBit } from '../registers.js';
import type { Target, TargetValue } from '../target.js';

/** Frames unwound at most (RBP chains in hostile guests can loop). */
const MAX_FRAMES = 64;

interface Frame {
  name: string;
  address: number | null;
  hypervisor: boolean;
}

export class StateService {
  constructor(private readonly ctx: SessionContext) {}

  threads(): DebugProtocol.ThreadsResponse['body'] {
    return { threads: [{ id: THREAD_ID, name: 'vCPU 0' }] };
  }

  /** The frames of the current stop: the hypervisor's handler (at a VM exit), the guest at RIP, then RBP-chain callers. */
  private frames(t: Target): Frame[] {
    const out: Frame[] = [];
    const stop = this.ctx.stop;
    const r = t.debuggee.registers();
    const rip = Number(BigInt.asIntN(64, r.rip));
    if (stop?.exit !== undefined) out.push({ name: `hypervisor: ${stop.exit.name} handler`, address: null, hypervisor: true });
    out.push({ name: this.label(t, rip), address: rip, hypervisor: false });
    // Frame-pointer chain (System V x86-64 ABI §3.2.2): [rbp] = caller's rbp, [rbp+w] = return address.
    const w = r.codeBits === 64 ? 8 : r.codeBits === 32 ? 4 : 2;
    if (w === 2) return out;
    let rbp = r.gpr.rbp;
    const rsp = r.gpr.rsp;
    for (let k = 0; k < MAX_FRAMES && rbp >= rsp && rbp !== 0n && rbp % BigInt(w) === 0n && rbp - rsp < 0x1000000n; k++) {
      const { data, unreadable } = t.debuggee.readMemory(Number(BigInt.asIntN(64, rbp)), 2 * w, false);
      if (unreadable > 0) break;
      let next = 0n, ret = 0n;
      for (let i = w - 1; i >= 0; i--) { next = (next << 8n) | BigInt(data[i]); ret = (ret << 8n) | BigInt(data[w + i]); }
      const ra = Number(BigInt.asIntN(64, ret));
      // Only frames whose return address is known code (a symbol or a line) look valid.
      if (ra === 0 || (t.symbolAt(ra) === undefined && t.lineAt(ra) === undefined)) break;
      out.push({ name: this.label(t, ra), address: ra, hypervisor: false });
      if (next <= rbp) break;
      rbp = next;
    }
    return out;
  }

  private label(t: Target, address: number): string {
    const s = t.symbolAt(address);
    return s === undefined ? hex(address) : s.offset === 0 ? s.name : `${s.name}+${hex(s.offset)}`;
  }

  stackTrace(a: Record<string, unknown>): DebugProtocol.StackTraceResponse['body'] {
    const t = this.ctx.requireStopped();
    this.ctx.checkThread(a, 'stackTrace');
    const all = this.frames(t);
    const start = Math.max(0, optInt('stackTrace', a, 'startFrame') ?? 0);
    const levels = optInt('stackTrace', a, 'levels') ?? 0;
    const slice = all.slice(start, levels > 0 ? start + levels : undefined);
    const stackFrames: DebugProtocol.StackFrame[] = slice.map((f, i) => {
      const id = start + i + 1;
      if (f.hypervisor) return { id, name: f.name, line: 0, column: 0, presentationHint: 'subtle' };
      const row = f.address === null ? undefined : t.lineAt(f.address);
      return {
        id, name: f.name, line: row === undefined ? 0 : this.ctx.lineOut(row.line), column: row === undefined ? 0 : this.ctx.columnOut(Math.max(1, row.column)),
        ...(row !== undefined ? { source: { name: basename(row.file), path: row.file } } : {}),
        ...(f.address !== null ? { instructionPointerReference: memoryReference(f.address) } : {}),
      };
    });
    return { stackFrames, totalFrames: all.length };
  }

  scopes(a: Record<string, unknown>): DebugProtocol.ScopesResponse['body'] {
    const t = this.ctx.requireStopped();
    const frameId = reqInt('scopes', a, 'frameId');
    const frames = this.frames(t);
    if (frameId < 1 || frameId > frames.length) throw new AdapterError(`scopes: no frame ${frameId} (the stop has ${frames.length})`);
    const stop = this.ctx.stop;
    const scopes: DebugProtocol.Scope[] = [];
    const regs = this.ctx.vars.add({ children: () => t.registerTree() });
    scopes.push({ name: 'Registers', presentationHint: 'registers', variablesReference: regs, expensive: false });
    if (stop?.exit !== undefined) {
      const exit = stop;
      scopes.push({ name: 'VM exit', variablesReference: this.ctx.vars.add({ children: () => t.exitTree(exit) }), expensive: false });
    }
    const groups = t.vmcsTree();
    if (groups.length > 0) {
      const vmcs = this.ctx.vars.add({
        children: () => t.vmcsTree().map((g) => ({ name: g.name, value: `${g.fields.length} fields`, lazy: () => t.vmcsTree().find((x) => x.name === g.name)?.fields ?? [] })),
      });
      scopes.push({ name: 'VMCS', variablesReference: vmcs, expensive: true });
    }
    return { scopes };
  }

  variables(a: Record<string, unknown>): DebugProtocol.VariablesResponse['body'] {
    this.ctx.requireTarget();
    const ref = reqInt('variables', a, 'variablesReference');
    const items = this.ctx.vars.get(ref).children();
    const start = Math.max(0, optInt('variables', a, 'start') ?? 0);
    const count = optInt('variables', a, 'count') ?? 0;
    const slice = items.slice(start, count > 0 ? start + count : undefined);
    return { variables: slice.map((v) => this.toVariable(v)) };
  }

  private toVariable(v: TargetValue): DebugProtocol.Variable {
    const children = v.children;
    const kids = v.lazy ?? (children !== undefined && children.length > 0 ? () => children : undefined);
    return {
      name: v.name,
      value: v.value,
      variablesReference: kids !== undefined ? this.ctx.vars.add({ children: kids }) : 0,
      ...(v.address !== undefined ? { memoryReference: memoryReference(v.address) } : {}),
      ...(v.edit === undefined ? { presentationHint: { attributes: ['readOnly'] } } : {}),
    };
  }

  /** DAP `setVariable`: registers (and their bits) and VMCS fields. */
  setVariable(a: Record<string, unknown>): DebugProtocol.SetVariableResponse['body'] {
    const t = this.ctx.requireStopped();
    const ref = reqInt('setVariable', a, 'variablesReference');
    const name = reqString('setVariable', a, 'name');
    const text = reqString('setVariable', a, 'value');
    const item = this.ctx.vars.get(ref).children().find((c) => c.name === name);
    if (item === undefined) throw new AdapterError(`setVariable: no variable ${JSON.stringify(name)} here`);
    if (item.edit === undefined) throw new AdapterError(`${name} is read-only`);
    let value: bigint;
    try { value = parseUserNumber(text); } catch {
      // An expression: rax + 1, [rsp], ...
      const r = t.evaluate(text, this.ctx.stop);
      if (r.number === undefined) throw new AdapterError(`${text} is not a number`);
      value = r.number;
    }
    value = BigInt.asUintN(64, value);
    const e = item.edit;
    if (e.kind === 'register') {
      if (e.bit !== undefined) {
        if (value > 1n) throw new AdapterError(`${name} is one bit: 0 or 1`);
        const current = t.debuggee.registers() as unknown as Record<string, bigint>;
        const full = current[e.name];
        if (typeof full !== 'bigint') throw new AdapterError(`${e.name} cannot be changed bit by bit`);
        this.setRegister(t, e.name, withBit(full, e.bit, value === 1n));
      } else this.setRegister(t, e.name, value);
    } else {
      try { t.writeVmcs(e.name, value); } catch (err) { throw new AdapterError(err instanceof Error ? err.message : String(err)); }
    }
    this.ctx.event('invalidated', { areas: ['variables'], threadId: THREAD_ID });
    if (e.kind === 'register') return { value: e.bit !== undefined ? String(value) : hex(value) };
    const updated = this.ctx.vars.get(ref).children().find((c) => c.name === name);
    return { value: updated?.value ?? hex(value) };
  }

  private setRegister(t: Target, name: string, value: bigint): void {
    try { t.debuggee.setRegister(name, value); } catch (err) { throw new AdapterError(err instanceof Error ? err.message : String(err)); }
  }

  /** DAP `exceptionInfo`: the VM exit stopped at. */
  exceptionInfo(a: Record<string, unknown>): DebugProtocol.ExceptionInfoResponse['body'] {
    this.ctx.requireStopped();
    this.ctx.checkThread(a, 'exceptionInfo');
    const s = this.ctx.stop;
    if (s?.exit === undefined) throw new AdapterError('exceptionInfo: not stopped at a VM exit');
    const e = s.exit;
    const fields = Object.entries(e.fields).map(([k, v]) => `${k}=${typeof v === 'bigint' || typeof v === 'number' ? hex(v) : String(v)}`).join(', ');
    return {
      exceptionId: `vmexit.${e.name}`,
      description: `${s.description}${e.summary ? `: ${e.summary}` : ''} (exit #${e.n}, ${e.stage} the hypervisor handled it)`,
      breakMode: 'always',
      details: { message: `qualification ${hex(e.qualification)}${fields ? `; ${fields}` : ''}`, typeName: e.name, fullTypeName: `VM exit ${e.reason} (${e.name})` },
    };
  }
}

function basename(p: string): string {
  const i = Math.max(p.lastIndexOf('/'), p.lastIndexOf('\\'));
  return i < 0 ? p : p.slice(i + 1);
}
