// What a debug session needs from the machine being debugged: the Debuggee contract plus symbols, lines, views and expressions.
import type { Debuggee, StopInfo } from '../emulator/debug/api.js';
import type { LineRow } from '../emulator/loader/types.js';
import type { EptAccess } from '../emulator/debug/views.js';
import type { EptResponseBody, ExitsResponseBody, PageWalkResponseBody, VirtioResponseBody, VmcsResponseBody } from './protocol.js';

/** A named value shown in the Variables view (children are decoded parts: flag bits, qualification fields). */
export interface TargetValue {
  name: string;
  value: string;
  /** Guest address the value points to (shown as a memory reference). */
  address?: number;
  /** The value may be changed through setVariable: a register name or a VMCS field name. */
  edit?: { kind: 'register' | 'vmcs'; name: string; bit?: number };
  children?: TargetValue[];
  /** Children computed when asked (fresh values after a change). */
  lazy?: () => TargetValue[];
}

/** The result of an expression (expr.ts) as the adapter shows it. */
export interface EvalOutcome {
  /** Formatted for display (hex for integers). */
  text: string;
  /** The numeric value, when it has one (for data breakpoints and memory references). */
  number?: bigint;
  type?: string;
}

export interface SymbolLookup {
  name: string;
  offset: number;
}

/** The machine side of a session. One Target per launch; the session never imports the emulator's internals. */
export interface Target {
  readonly debuggee: Debuggee;
  /** Entry point of the image. */
  readonly entry: number;
  /** Image symbol covering an address. */
  symbolAt(address: number): SymbolLookup | undefined;
  symbolByName(name: string): number | undefined;
  /** Names of all function symbols (for completions and messages). */
  symbolNames(): string[];
  /** Source line of an address (DWARF line table), or undefined. */
  lineAt(address: number): LineRow | undefined;
  /** Statement addresses of a source line, matched by path suffix. */
  addressesForLine(path: string, line: number): number[];
  /** Registers as a tree (GPRs, RIP, RFLAGS bits, segments, CRs with named bits, EFER, DRs, descriptor tables). */
  registerTree(): TargetValue[];
  /** The VM-exit information of the exit stopped at (reason, qualification decoded, addresses, info fields). */
  exitTree(stop: StopInfo): TargetValue[];
  /** Every VMCS field grouped as SDM Vol. 3C §25 groups them, controls decoded into named bits. */
  vmcsTree(): { name: string; fields: TargetValue[] }[];
  /** VMWRITE a field (by name) in the debugger's name. */
  writeVmcs(field: string, value: bigint): void;
  /** Evaluate an expression over registers, memory and the current exit's fields; throws with a readable message. */
  evaluate(expression: string, stop: StopInfo | null): EvalOutcome;
  /** Does a condition compile? Returns the error message or null. */
  checkCondition(condition: string, exitFilter?: string): string | null;
  /** Expand a logpoint message ("rax={rax}"). */
  formatLogMessage(template: string, stop: StopInfo | null): string;
  /** Console commands (vmcs, ept, walk, exits, virtio, help): the text, or null when `line` is not a command. */
  consoleCommand(line: string): string | null;
  /** Custom-request bodies (views.ts data plus a text rendering); throw when the run has no hypervisor. */
  vmcsBody(field?: string): VmcsResponseBody;
  eptBody(gpa?: bigint, access?: EptAccess, table?: { hpa: bigint; level?: number }): EptResponseBody;
  pageWalkBody(gva: bigint, access?: EptAccess): PageWalkResponseBody;
  virtioBody(): VirtioResponseBody;
  exitsBody(start: number, count: number): ExitsResponseBody;
  /** Hypervisor notes (unassigned accesses, device resets) logged since the last call. */
  takeNotes(): string[];
}

/** What the adapter needs from its host (Node process, extension host, browser worker). */
export interface AdapterHost {
  /** Build a target for a launch (reads the image, creates the machine); throws with a message naming the problem. */
  createTarget(launch: TargetLaunch): Target;
  /** Disassembler for the `disassemble` request (iced-x86), or null when unavailable. */
  disassembler: Disassembler | null;
  /** Where `trace: true` writes the DAP traffic. */
  trace?: (line: string) => void;
}

export interface TargetLaunch {
  /** The raw launch arguments (validated by parseLaunchConfig inside createTarget). */
  config: Record<string, unknown>;
  cwd: string | undefined;
  /** Guest console bytes as the guest writes them. */
  onConsole: (byte: number) => void;
  exitStage: 'before' | 'after' | 'both';
  /** Logpoint messages. */
  log: (text: string) => void;
}

export interface DecodedInstruction {
  length: number;
  text: string;
  /** Does the instruction transfer control and return (CALL)? Used for `next` over calls. */
  isCall: boolean;
  /** A branch/call target the disassembly may annotate with a symbol. */
  target?: number;
}

export interface Disassembler {
  /** Decode one instruction from `bytes` at `ip`; length 0 or an invalid flag for undecodable bytes. */
  decode(bytes: Uint8Array, ip: number, bits: 16 | 32 | 64, syntax: 'nasm' | 'intel' | 'gas'): DecodedInstruction | null;
}
