// The exercise.json format (samples/exercises/README.md): parsing and validation, every error naming its field.
import { exitReasonByName } from '../../emulator/vmx/exit-reasons.js';

/** exercise.json is malformed (a broken exercise, not a student's mistake): exit status 2. */
export class ExerciseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ExerciseError';
  }
}

export const REGISTER_NAMES = ['rax', 'rbx', 'rcx', 'rdx', 'rsi', 'rdi', 'rbp', 'rsp', 'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15', 'rip', 'rflags', 'cr0', 'cr2', 'cr3', 'cr4', 'efer'] as const;
export const RUN_STATUSES = ['halted', 'debug-exit', 'triple-fault', 'reset', 'budget', 'error'] as const;

export type CheckSpec = { name: string; hint: string } & (
  | { kind: 'output'; output: string }
  | { kind: 'outputMatches'; pattern: string; regex: RegExp }
  | { kind: 'status'; status: string; exitCode?: number }
  | { kind: 'exits'; exits: Record<string, { min?: number; max?: number }> }
  | { kind: 'exitSequence'; sequence: string[] }
  | { kind: 'registers'; registers: Record<string, bigint> }
  | { kind: 'memory'; gpa: number; bytes: Uint8Array }
);

export interface ExerciseSpec {
  title: string;
  kind: 'guest' | 'hypervisor';
  /** The launch configuration as written (validated later by parseLaunchConfig; paths relative to the exercise folder). */
  launch: Record<string, unknown>;
  build: boolean;
  handlers?: string;
  maxInstructions: number;
  checks: CheckSpec[];
}

export const DEFAULT_MAX_INSTRUCTIONS = 5_000_000;
const KINDS = ['output', 'outputMatches', 'status', 'exits', 'exitSequence', 'registers', 'memory'] as const;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function str(v: unknown, field: string): string {
  if (typeof v !== 'string' || v.length === 0) throw new ExerciseError(`exercise.json: "${field}" must be a non-empty string`);
  return v;
}

function count(v: unknown, field: string): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw new ExerciseError(`exercise.json: "${field}" must be a whole number ≥ 0`);
  return v;
}

/** A number or "0x..." string → bigint. */
function bigValue(v: unknown, field: string): bigint {
  if (typeof v === 'number' && Number.isSafeInteger(v)) return BigInt.asUintN(64, BigInt(v));
  if (typeof v === 'string' && /^(0x[0-9a-f]+|\d+)$/i.test(v.trim())) return BigInt.asUintN(64, BigInt(v.trim()));
  throw new ExerciseError(`exercise.json: "${field}" must be a number or a "0x..." string`);
}

function reasonName(name: string, field: string): string {
  if (exitReasonByName(name) === undefined) throw new ExerciseError(`exercise.json: "${field}": unknown exit reason "${name}" (names as in EXIT_REASON, e.g. "CPUID", "IO_INSTRUCTION")`);
  return name;
}

function parseCheck(raw: unknown, i: number): CheckSpec {
  const at = `checks[${i}]`;
  if (!isObject(raw)) throw new ExerciseError(`exercise.json: "${at}" must be an object`);
  const name = str(raw.name, `${at}.name`);
  const hint = str(raw.hint, `${at}.hint`);
  const present = KINDS.filter((k) => k in raw);
  if (present.length !== 1) {
    throw new ExerciseError(`exercise.json: "${at}" must have exactly one of ${KINDS.join(', ')} (has ${present.length === 0 ? 'none' : present.join(', ')})`);
  }
  const allowed = new Set(['name', 'hint', present[0], ...(present[0] === 'status' ? ['exitCode'] : [])]);
  for (const k of Object.keys(raw)) if (!allowed.has(k)) throw new ExerciseError(`exercise.json: "${at}.${k}" is not a field of a ${present[0]} check`);
  const base = { name, hint };
  switch (present[0]) {
    case 'output':
      if (typeof raw.output !== 'string') throw new ExerciseError(`exercise.json: "${at}.output" must be a string`);
      return { ...base, kind: 'output', output: raw.output };
    case 'outputMatches': {
      const pattern = str(raw.outputMatches, `${at}.outputMatches`);
      let regex: RegExp;
      try { regex = new RegExp(pattern, 'm'); } catch (e) { throw new ExerciseError(`exercise.json: "${at}.outputMatches" is not a valid regular expression (${(e as Error).message})`); }
      return { ...base, kind: 'outputMatches', pattern, regex };
    }
    case 'status': {
      const status = str(raw.status, `${at}.status`);
      if (!(RUN_STATUSES as readonly string[]).includes(status)) throw new ExerciseError(`exercise.json: "${at}.status" must be one of ${RUN_STATUSES.join(', ')}`);
      return { ...base, kind: 'status', status, exitCode: raw.exitCode === undefined ? undefined : count(raw.exitCode, `${at}.exitCode`) };
    }
    case 'exits': {
      if (!isObject(raw.exits) || Object.keys(raw.exits).length === 0) throw new ExerciseError(`exercise.json: "${at}.exits" must be an object of exit-reason name → { min, max }`);
      const exits: Record<string, { min?: number; max?: number }> = {};
      for (const [n, b] of Object.entries(raw.exits)) {
        reasonName(n, `${at}.exits`);
        if (typeof b === 'number') { exits[n] = { min: count(b, `${at}.exits.${n}`), max: b }; continue; }
        if (!isObject(b) || (b.min === undefined && b.max === undefined)) throw new ExerciseError(`exercise.json: "${at}.exits.${n}" must be a count or { "min": N, "max": N }`);
        exits[n] = { min: b.min === undefined ? undefined : count(b.min, `${at}.exits.${n}.min`), max: b.max === undefined ? undefined : count(b.max, `${at}.exits.${n}.max`) };
      }
      return { ...base, kind: 'exits', exits };
    }
    case 'exitSequence': {
      if (!Array.isArray(raw.exitSequence) || raw.exitSequence.length === 0) throw new ExerciseError(`exercise.json: "${at}.exitSequence" must be a non-empty array of exit-reason names`);
      return { ...base, kind: 'exitSequence', sequence: raw.exitSequence.map((n, k) => reasonName(str(n, `${at}.exitSequence[${k}]`), `${at}.exitSequence[${k}]`)) };
    }
    case 'registers': {
      if (!isObject(raw.registers) || Object.keys(raw.registers).length === 0) throw new ExerciseError(`exercise.json: "${at}.registers" must be an object of register name → value`);
      const registers: Record<string, bigint> = {};
      for (const [r, v] of Object.entries(raw.registers)) {
        if (!(REGISTER_NAMES as readonly string[]).includes(r)) throw new ExerciseError(`exercise.json: "${at}.registers.${r}": unknown register (valid: ${REGISTER_NAMES.join(', ')})`);
        registers[r] = bigValue(v, `${at}.registers.${r}`);
      }
      return { ...base, kind: 'registers', registers };
    }
    default: {
      const m = raw.memory;
      if (!isObject(m)) throw new ExerciseError(`exercise.json: "${at}.memory" must be { "gpa": "0x...", "hex": "..." }`);
      const gpa = Number(bigValue(m.gpa, `${at}.memory.gpa`));
      const hex = typeof m.hex === 'string' ? m.hex.replace(/\s+/g, '') : '';
      if (!/^([0-9a-f]{2})+$/i.test(hex) || hex.length > 8192) throw new ExerciseError(`exercise.json: "${at}.memory.hex" must be an even number of hex digits (1..4096 bytes)`);
      const bytes = new Uint8Array(hex.length / 2);
      for (let k = 0; k < bytes.length; k++) bytes[k] = parseInt(hex.slice(2 * k, 2 * k + 2), 16);
      return { ...base, kind: 'memory', gpa, bytes };
    }
  }
}

/** Parse the text of exercise.json. Throws ExerciseError naming the offending field. */
export function parseExercise(text: string): ExerciseSpec {
  let raw: unknown;
  try { raw = JSON.parse(text); } catch (e) { throw new ExerciseError(`exercise.json: not valid JSON (${(e as Error).message})`); }
  if (!isObject(raw)) throw new ExerciseError('exercise.json: expected a JSON object');
  const known = new Set(['title', 'kind', 'launch', 'build', 'handlers', 'maxInstructions', 'checks', 'description']);
  for (const k of Object.keys(raw)) if (!known.has(k)) throw new ExerciseError(`exercise.json: unknown field "${k}" (fields: ${[...known].join(', ')})`);
  const title = str(raw.title, 'title');
  if (raw.kind !== 'guest' && raw.kind !== 'hypervisor') throw new ExerciseError('exercise.json: "kind" must be "guest" or "hypervisor"');
  if (!isObject(raw.launch)) throw new ExerciseError('exercise.json: "launch" must be a launch configuration object (with "program")');
  str(raw.launch.program, 'launch.program');
  if (raw.build !== undefined && typeof raw.build !== 'boolean') throw new ExerciseError('exercise.json: "build" must be true or false');
  const handlers = raw.handlers === undefined ? undefined : str(raw.handlers, 'handlers');
  if (raw.kind === 'hypervisor' && handlers === undefined) throw new ExerciseError('exercise.json: "handlers" (the handler module file) is required for a hypervisor exercise');
  if (handlers !== undefined && (handlers.includes('..') || handlers.startsWith('/'))) throw new ExerciseError('exercise.json: "handlers" must be a file inside the exercise folder');
  const maxInstructions = raw.maxInstructions === undefined ? DEFAULT_MAX_INSTRUCTIONS : count(raw.maxInstructions, 'maxInstructions');
  if (maxInstructions === 0) throw new ExerciseError('exercise.json: "maxInstructions" must be at least 1');
  if (!Array.isArray(raw.checks) || raw.checks.length === 0) throw new ExerciseError('exercise.json: "checks" must be a non-empty array');
  const checks = raw.checks.map(parseCheck);
  return { title, kind: raw.kind, launch: raw.launch, build: raw.build ?? true, handlers, maxInstructions, checks };
}
