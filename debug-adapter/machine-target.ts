// The Target of a real run: a Machine under MachineDebuggee, with symbols, DWARF lines, expressions (expr.ts) and the views.
import { Machine, type LaunchConfig, type MachineHost } from '../emulator/index.js';
import { MachineDebuggee } from '../emulator/debug/debuggee.js';
import { DEFAULT_HISTORY_MIB } from '../emulator/config.js';
import { compileCondition, evaluateText, formatLogMessage, formatValue, withFields, type EvalContext } from '../emulator/debug/expr.js';
import { eptMappings, eptTranslate, eptView, exitsView, pageWalkView, statsView, virtioView, vmcsView, type EptAccess } from '../emulator/debug/views.js';
import type { Hypervisor } from '../emulator/vmm/hypervisor.js';
import { eptMappingsText, eptTableText, eptTranslateText, exitsText, pageWalkText, virtioText, vmcsText } from './view-text.js';
import { isVmcsFieldName } from '../emulator/vmx/fields.js';
import type { StopInfo } from '../emulator/debug/api.js';
import type { LineRow } from '../emulator/loader/types.js';
import { AdapterError } from './errors.js';
import { hex, parseReference } from './format.js';
import { registerTree } from './registers.js';
import type { EptResponseBody, ExitsResponseBody, PageWalkResponseBody, VirtioResponseBody, VmcsResponseBody } from './protocol.js';
import type { EvalOutcome, SymbolLookup, Target, TargetValue } from './target.js';

/** Hypervisor notes worth a line in the debug console (the rest stay in the exit log). */
const NOTABLE = /unassigned|NEEDS_RESET|reset|rejected|ignored|#GP|unknown|no nested|failed check|EPT-protected/i;

export interface MachineTargetOptions {
  /** Folder that relative source paths of the line table are resolved against (the image's folder). */
  sourceRoot?: string;
  exitStage?: 'before' | 'after' | 'both';
  onConsole?: (byte: number) => void;
  openDisk?: MachineHost['openDisk'];
  /** Logpoint output. */
  log?: (text: string) => void;
}

/** Build the machine for a launch configuration (ConfigError / LoadError propagate with their messages). */
/** A target for a validated configuration (the host parsed it, so a bad field is reported before any file is read). */
export function createMachineTarget(image: Uint8Array, config: LaunchConfig, opts: MachineTargetOptions = {}): MachineTarget {
  const machine = new Machine(image, config, { onConsole: opts.onConsole, openDisk: opts.openDisk });
  return new MachineTarget(machine, opts);
}

export class MachineTarget implements Target {
  readonly debuggee: MachineDebuggee;
  readonly entry: number;
  private notesSeen = 0;
  private readonly fileCache = new Map<string, string>();
  private vmcsPrevious: Record<string, string> | undefined;

  constructor(readonly machine: Machine, private readonly opts: MachineTargetOptions = {}) {
    this.debuggee = new MachineDebuggee(machine, { exitStage: opts.exitStage, log: opts.log });
    this.entry = machine.image.entry;
    // Time travel: record the run's history within the configured budget (historyMiB 0 turns it off).
    const mib = machine.config.historyMiB ?? DEFAULT_HISTORY_MIB;
    if (mib > 0) this.debuggee.enableHistory({ budgetBytes: mib * 2 ** 20 });
  }

  symbolAt(address: number): SymbolLookup | undefined {
    const s = this.debuggee.symbols.lookup(address);
    return s === undefined ? undefined : { name: s.symbol.name, offset: s.offset };
  }

  symbolByName(name: string): number | undefined {
    return this.debuggee.symbols.byName(name)?.address;
  }

  symbolNames(): string[] {
    return this.debuggee.symbols.all.filter((s) => s.kind === 'function').map((s) => s.name);
  }

  lineAt(address: number): LineRow | undefined {
    const row = this.debuggee.lines.lineFor(address);
    if (row === undefined || row.line === 0) return undefined;
    return { ...row, file: this.resolve(row.file) };
  }

  private resolve(file: string): string {
    let r = this.fileCache.get(file);
    if (r === undefined) {
      const root = this.opts.sourceRoot;
      r = root === undefined || /^([/\\]|[A-Za-z]:)/.test(file) ? file : `${root.replace(/[/\\]$/, '')}/${file}`;
      this.fileCache.set(file, r);
    }
    return r;
  }

  addressesForLine(path: string, line: number): number[] {
    return this.debuggee.lines.addressesFor(path, line);
  }

  registerTree(): TargetValue[] {
    return registerTree(this.debuggee.registers());
  }

  exitTree(stop: StopInfo): TargetValue[] {
    const e = stop.exit;
    if (e === undefined) return [];
    const hv = this.machine.hv;
    const fields: TargetValue[] = Object.entries(e.fields).map(([k, v]) => ({ name: k, value: typeof v === 'string' ? v : typeof v === 'boolean' ? String(v) : hex(v) }));
    const out: TargetValue[] = [
      { name: 'reason', value: `${e.name} (${e.reason})` },
      { name: 'exit number', value: String(e.n) },
      { name: 'stage', value: e.stage === 'before' ? 'before the hypervisor handled it' : 'after the hypervisor handled it' },
      { name: 'qualification', value: `${hex(e.qualification)}${e.summary ? ` (${e.summary})` : ''}`, children: fields, edit: { kind: 'vmcs', name: 'EXIT_QUALIFICATION' } },
    ];
    if (hv !== null) {
      const rd = (n: string) => hv.vmread(n as 'GUEST_RIP');
      const gla = rd('GUEST_LINEAR_ADDRESS'), gpa = rd('GUEST_PHYSICAL_ADDRESS');
      out.push({ name: 'guest-linear address', value: hex(gla), address: Number(BigInt.asIntN(64, gla)) });
      out.push({ name: 'guest-physical address', value: hex(gpa) });
      out.push({ name: 'instruction length', value: String(rd('VM_EXIT_INSTRUCTION_LEN')), edit: { kind: 'vmcs', name: 'VM_EXIT_INSTRUCTION_LEN' } });
      out.push({ name: 'instruction information', value: hex(rd('VMX_INSTRUCTION_INFO'), 8) });
      out.push(this.eventInfo('interruption information', rd('VM_EXIT_INTR_INFO'), rd('VM_EXIT_INTR_ERROR_CODE')));
      out.push(this.eventInfo('IDT-vectoring information', rd('IDT_VECTORING_INFO_FIELD'), rd('IDT_VECTORING_ERROR_CODE')));
    }
    return out;
  }

  /** Interruption-information format (SDM Vol. 3C §25.9.2, table 25-18). */
  private eventInfo(name: string, info: bigint, code: bigint): TargetValue {
    const v = Number(info);
    const valid = (v >>> 31) !== 0;
    const types = ['external interrupt', 'reserved', 'NMI', 'hardware exception', 'software interrupt', 'privileged software exception', 'software exception', 'other event'];
    return {
      name, value: valid ? `${hex(v, 8)} (vector ${v & 0xff}, ${types[(v >>> 8) & 7]})` : `${hex(v, 8)} (not valid)`,
      children: [
        { name: 'vector', value: String(v & 0xff) }, { name: 'type', value: types[(v >>> 8) & 7] },
        { name: 'error code valid', value: String((v >>> 11) & 1) }, { name: 'error code', value: hex(code) },
        { name: 'NMI unblocking due to IRET', value: String((v >>> 12) & 1) }, { name: 'valid', value: String(v >>> 31) },
      ],
    };
  }

  vmcsTree(): { name: string; fields: TargetValue[] }[] {
    const hv = this.machine.hv;
    if (hv === null) return [];
    const view = vmcsView(hv);
    return view.groups.map((g) => ({
      name: g.name,
      fields: g.fields.map((f) => ({
        name: f.name, value: f.value, edit: { kind: 'vmcs' as const, name: f.name },
        ...(f.bits !== undefined && f.bits.length > 0 ? { children: f.bits.map((b) => ({ name: b.name, value: b.value ?? (b.set ? '1' : '0') })) } : {}),
      })),
    }));
  }

  writeVmcs(field: string, value: bigint): void {
    const hv = this.machine.hv;
    if (hv === null) throw new AdapterError('this run has no hypervisor');
    if (!isVmcsFieldName(field)) throw new AdapterError(`no VMCS field named ${field}`);
    hv.vmwrite(field, value);
    this.debuggee.stateChanged();
  }

  private context(stop: StopInfo | null): EvalContext {
    const base = this.debuggee.evalContext();
    return stop?.exit !== undefined ? withFields(base, { reason: stop.exit.reason, name: stop.exit.name, qualification: stop.exit.qualification, ...stop.exit.fields }) : base;
  }

  evaluate(expression: string, stop: StopInfo | null): EvalOutcome {
    const r = evaluateText(expression, this.context(stop));
    if (!r.ok) throw new AdapterError(r.error);
    const v = r.value;
    return { text: formatValue(v), ...(typeof v === 'bigint' ? { number: v, type: 'integer' } : { type: typeof v }) };
  }

  checkCondition(condition: string): string | null {
    const c = compileCondition(condition);
    return c.ok ? null : c.error;
  }

  formatLogMessage(template: string, stop: StopInfo | null): string {
    return formatLogMessage(template, this.context(stop));
  }

  consoleCommand(line: string): string | null {
    const [cmd, ...rest] = line.trim().split(/\s+/);
    const arg = rest[0];
    const num = (what: string, v: string | undefined): bigint => {
      if (v === undefined) throw new AdapterError(`${cmd}: give ${what}, e.g. ${cmd} 0x100000`);
      return BigInt.asUintN(64, BigInt(parseReference(v).address));
    };
    switch (cmd) {
      case 'help': return HELP;
      case 'vmcs': return this.vmcsBody(arg).text;
      case 'ept': return this.eptBody(arg === undefined ? undefined : num('a guest-physical address', arg)).text;
      case 'walk': return this.pageWalkBody(num('a guest-virtual address', arg)).text;
      case 'exits': {
        const n = arg === undefined ? 20 : Number(arg);
        if (!Number.isSafeInteger(n) || n < 1) throw new AdapterError('exits: give a count, e.g. exits 20');
        return this.exitsBody(0, n).text;
      }
      case 'virtio': return this.virtioBody().text;
      default: return null;
    }
  }

  private hv(what: string): Hypervisor {
    const hv = this.machine.hv;
    if (hv === null) throw new AdapterError(`this run has no hypervisor, so no ${what}`);
    return hv;
  }

  vmcsBody(field?: string): VmcsResponseBody {
    const view = vmcsView(this.hv('VMCS'), this.vmcsPrevious);
    if (field === undefined) {
      this.vmcsPrevious = view.snapshot;
      return { ...view, text: vmcsText(view) };
    }
    const want = field.toUpperCase();
    const groups = view.groups.map((g) => ({ name: g.name, fields: g.fields.filter((f) => f.name === want) })).filter((g) => g.fields.length > 0);
    if (groups.length === 0) throw new AdapterError(`no VMCS field named ${JSON.stringify(field.slice(0, 60))}`);
    const one = { ...view, groups };
    return { ...one, text: vmcsText(one) };
  }

  eptBody(gpa?: bigint, access?: EptAccess, table?: { hpa: bigint; level?: number }): EptResponseBody {
    const hv = this.hv('EPT');
    if (table !== undefined) {
      const view = eptView(hv, table.hpa, table.level);
      return { table: view, text: eptTableText(view) };
    }
    if (gpa === undefined) {
      const mappings = eptMappings(hv);
      const root = eptView(hv);
      return { mappings, table: root, text: `${eptMappingsText(mappings)}\n${eptTableText(root)}` };
    }
    const translate = eptTranslate(hv, gpa, access ?? 'read');
    return { translate, text: eptTranslateText(translate) };
  }

  pageWalkBody(gva: bigint, access?: EptAccess): PageWalkResponseBody {
    const view = pageWalkView(this.hv('page walk through EPT'), gva, access ?? 'read');
    return { ...view, text: pageWalkText(view) };
  }

  virtioBody(): VirtioResponseBody {
    const view = virtioView(this.machine);
    return { ...view, text: virtioText(view) };
  }

  exitsBody(start: number, count: number): ExitsResponseBody {
    const hv = this.hv('exit log');
    const view = exitsView(hv, start, count);
    const stats = statsView(hv);
    return { ...view, stats, text: exitsText(view, stats) };
  }

  takeNotes(): string[] {
    const hv = this.machine.hv;
    // After going back in history the log is shorter: notes of exits already reported are not repeated.
    if (hv === null || hv.log.total <= this.notesSeen) return [];
    const since = this.notesSeen;
    this.notesSeen = hv.log.total;
    const fresh = hv.log.recent(Math.min(4096, hv.log.total - since));
    const notes = fresh.filter((e) => e.note !== undefined && NOTABLE.test(e.note)).map((e) => `#${e.n} ${e.name} rip=${hex(e.rip)}: ${e.note}`);
    return notes.length > 50 ? [...notes.slice(0, 50), `… ${notes.length - 50} more notes (see 'exits')`] : notes;
  }
}

const HELP = [
  'Debug console: expressions and commands.',
  '  <expression>   registers (rax, eax, al, rip, rflags, zf, cr3, ...), numbers, + - * / % << >> & | ^ ~ ! == != < <= > >= && ||,',
  '                 memory: byte|word|dword|qword [addr], phys qword [gpa]; signed(x); image symbols; exit fields at a VM exit',
  '  vmcs [FIELD]   the VMCS, grouped as the SDM groups it (or one field)',
  '  ept [GPA]      the EPT mappings, or the EPT walk of one guest-physical address',
  '  walk GVA       the guest page walk of a guest-virtual address, then its EPT walk',
  '  exits [N]      the last N VM exits and the statistics by reason',
  '  virtio         the virtio devices and their recent events',
  '  help           this text',
].join('\n');
