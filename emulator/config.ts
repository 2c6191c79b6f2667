// Launch configuration: the validated, defaulted description of one run, parsed from untrusted JSON (launch.json, CLI).
import { DEFAULT_DEVICES, DEVICE_NAMES as PLATFORM_DEVICE_NAMES } from './devices/platform.js';
import { VMCS_FIELDS } from './vmx/fields.js';

/** Virtio devices a run may have (virtio-mmio windows and IRQs in README "Virtio devices"). */
export const VIRTIO_DEVICE_NAMES = ['virtio-console', 'virtio-blk', 'virtio-rng'] as const;
/** Every device name `devices` accepts. */
export const DEVICE_NAMES: readonly string[] = [...PLATFORM_DEVICE_NAMES, ...VIRTIO_DEVICE_NAMES];

export type ImageFormat = 'auto' | 'elf' | 'multiboot' | 'flat';
export type CpuMode = 'real' | 'protected' | 'paged32' | 'long';

export interface LaunchConfig {
  program: string;
  format: ImageFormat;
  loadAddress?: number;
  entry?: number;
  cpuMode?: CpuMode;
  /** Guest RAM in MiB, 1..65536 (default 64). */
  memoryMiB: number;
  /** Kernel command line (multiboot cmdline), default ''. */
  args: string;
  /** The run stops after this many instructions (default 10_000_000_000). */
  maxInstructions: number;
  /** Devices to create by name (default ['debugcon', 'debug-exit', 'uart']; virtio devices by name or object entry). */
  devices: string[];
  /** The virtio-blk disk, when `devices` has a { "type": "virtio-blk", "image": ... } entry. */
  disk?: DiskConfig;
  /** Seed of virtio-rng's deterministic stream (default 0x766d73636f7065). */
  rngSeed?: number;
  /**
   * VMCS fields the hypervisor writes after its own setup, before the first VM entry, by SDM/Linux
   * name (e.g. { "EXCEPTION_BITMAP": "0x4000", "GUEST_CS_AR_BYTES": "0xa09b" }): for experiments
   * and for showing what VM entry checks.
   */
  vmcs?: Record<string, number>;
  /** Memory budget of the debugger's run history (time travel) in MiB, 0..65536 (absent: DEFAULT_HISTORY_MIB); 0 turns history off. */
  historyMiB?: number;
  /** Translate hot guest code blocks into JavaScript (default true); false runs the interpreter only. */
  jit?: boolean;
}

export interface DiskConfig {
  /** Path of the disk image (relative paths are resolved by the host against the configuration's folder). */
  image: string;
  /** Refuse writes (VIRTIO_BLK_F_RO). */
  readOnly: boolean;
  /** Write guest writes through to the image file (else they are kept in memory for the run). */
  writeThrough: boolean;
}

/** A launch configuration field is missing, malformed or out of range. `field` is '' for the whole object. */
export class ConfigError extends Error {
  constructor(readonly field: string, message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

export const FORMATS: readonly ImageFormat[] = ['auto', 'elf', 'multiboot', 'flat'];
export const CPU_MODES: readonly CpuMode[] = ['real', 'protected', 'paged32', 'long'];
export const MEMORY_MIB_MIN = 1;
export const MEMORY_MIB_MAX = 65536;
export const DEFAULT_MEMORY_MIB = 64;
export const DEFAULT_MAX_INSTRUCTIONS = 10_000_000_000;
export const DEFAULT_HISTORY_MIB = 512;
export const HISTORY_MIB_MAX = 65536;
/** Upper bound for `args`: generous for any kernel command line (Linux x86 allows 2048), bounded for hostile input. */
export const ARGS_MAX_LENGTH = 65536;
export const PROGRAM_MAX_LENGTH = 4096;

/** Fields this parser owns. */
export const LAUNCH_FIELDS = ['program', 'format', 'loadAddress', 'entry', 'cpuMode', 'memoryMiB', 'args', 'maxInstructions', 'devices', 'vmcs', 'historyMiB', 'jit'] as const;

/**
 * Fields of a VS Code debug configuration that belong to VS Code or the debug adapter: accepted and
 * ignored here (the adapter reads the ones it needs from the raw object). Keys starting with "__" are
 * VS Code internals (__sessionId, __configurationTarget, ...) and are ignored as well.
 */
export const DEBUGGER_FIELDS = [
  'type',
  'request',
  'name',
  'stopOnEntry',
  'trace',
  'cwd',
  'presentation',
  'preLaunchTask',
  'postDebugTask',
  'internalConsoleOptions',
  'debugServer',
  'noDebug',
  'suppressMultipleSessionWarning',
  'serverReadyAction',
  'showDevDebugOutput',
] as const;

const KNOWN_FIELDS: readonly string[] = [...LAUNCH_FIELDS, ...DEBUGGER_FIELDS];

/**
 * Validate and default a launch configuration. Throws ConfigError naming the first bad field (fields are
 * checked in LAUNCH_FIELDS order, after unknown fields). `requireProgram` (default true): a missing program
 * is an error; with false it defaults to '' (the CLI supplies it from the command line).
 */
export function parseLaunchConfig(raw: unknown, opts: { requireProgram?: boolean } = {}): LaunchConfig {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new ConfigError('', `launch configuration: expected a JSON object, got ${describe(raw)}`);
  }
  const o = raw as Record<string, unknown>;
  const keys = Object.keys(o);
  for (const k of keys) {
    if (KNOWN_FIELDS.includes(k) || k.startsWith('__')) continue;
    const guess = suggest(k, KNOWN_FIELDS);
    throw new ConfigError(k, `unknown field ${JSON.stringify(clip(k))}` + (guess === null ? '' : ` (did you mean ${JSON.stringify(guess)}?)`));
  }
  const has = (k: string) => Object.prototype.hasOwnProperty.call(o, k) && o[k] !== undefined;

  let program = '';
  if (has('program')) program = validateField('program', o.program) as string;
  else if (opts.requireProgram ?? true) throw new ConfigError('program', 'program: required (the path of the guest image)');

  const cfg: LaunchConfig = {
    program,
    format: has('format') ? (validateField('format', o.format) as ImageFormat) : 'auto',
    memoryMiB: has('memoryMiB') ? (validateField('memoryMiB', o.memoryMiB) as number) : DEFAULT_MEMORY_MIB,
    args: has('args') ? (validateField('args', o.args) as string) : '',
    maxInstructions: has('maxInstructions') ? (validateField('maxInstructions', o.maxInstructions) as number) : DEFAULT_MAX_INSTRUCTIONS,
    devices: [...DEFAULT_DEVICES],
  };
  let disk: DiskConfig | undefined;
  let rngSeed: number | undefined;
  if (has('devices')) ({ names: cfg.devices, disk, rngSeed } = parseDevices(o.devices));
  let vmcs: Record<string, number> | undefined;
  if (has('vmcs')) vmcs = parseVmcsOverrides(o.vmcs);
  if (has('loadAddress')) {
    const a = validateField('loadAddress', o.loadAddress) as number;
    const memBytes = cfg.memoryMiB * 2 ** 20;
    if (a >= memBytes) {
      throw new ConfigError('loadAddress', `loadAddress: 0x${a.toString(16)} is beyond the end of guest memory (memoryMiB ${cfg.memoryMiB} = 0x${memBytes.toString(16)} bytes)`);
    }
    cfg.loadAddress = a;
  }
  if (has('entry')) cfg.entry = validateField('entry', o.entry) as number;
  if (has('cpuMode')) cfg.cpuMode = validateField('cpuMode', o.cpuMode) as CpuMode;
  // Key order of the result is fixed (not the input's) so equal configurations serialise equally.
  return {
    program: cfg.program,
    format: cfg.format,
    ...(cfg.loadAddress !== undefined ? { loadAddress: cfg.loadAddress } : {}),
    ...(cfg.entry !== undefined ? { entry: cfg.entry } : {}),
    ...(cfg.cpuMode !== undefined ? { cpuMode: cfg.cpuMode } : {}),
    memoryMiB: cfg.memoryMiB,
    args: cfg.args,
    maxInstructions: cfg.maxInstructions,
    devices: cfg.devices,
    ...(disk !== undefined ? { disk } : {}),
    ...(rngSeed !== undefined ? { rngSeed } : {}),
    ...(vmcs !== undefined ? { vmcs } : {}),
    ...(has('historyMiB') ? { historyMiB: validateField('historyMiB', o.historyMiB) as number } : {}),
    ...(has('jit') ? { jit: validateField('jit', o.jit) as boolean } : {}),
  };
}

/**
 * Validate one field on its own (no cross-field checks); returns the normalised value or throws
 * ConfigError. Used by parseLaunchConfig and by the CLI to report an option's error early.
 */
export function validateField(field: (typeof LAUNCH_FIELDS)[number], v: unknown): LaunchConfig[keyof LaunchConfig] {
  switch (field) {
    case 'program':
      if (typeof v !== 'string') throw new ConfigError(field, `program: expected a path string, got ${describe(v)}`);
      if (v.length === 0) throw new ConfigError(field, 'program: must not be empty');
      if (v.length > PROGRAM_MAX_LENGTH) throw new ConfigError(field, `program: path longer than ${PROGRAM_MAX_LENGTH} characters`);
      if (v.includes('\0')) throw new ConfigError(field, 'program: must not contain a NUL character');
      return v;
    case 'format':
      return oneOf(field, v, FORMATS);
    case 'cpuMode':
      return oneOf(field, v, CPU_MODES);
    case 'loadAddress':
    case 'entry':
      return parseNumber(field, v);
    case 'memoryMiB': {
      const n = parseNumber(field, v);
      if (n < MEMORY_MIB_MIN || n > MEMORY_MIB_MAX) {
        throw new ConfigError(field, `memoryMiB: must be between ${MEMORY_MIB_MIN} and ${MEMORY_MIB_MAX}, got ${n}`);
      }
      return n;
    }
    case 'maxInstructions': {
      const n = parseNumber(field, v);
      if (n < 1) throw new ConfigError(field, `maxInstructions: must be at least 1, got ${n}`);
      return n;
    }
    case 'jit':
      if (typeof v !== 'boolean') throw new ConfigError(field, `jit: expected true or false (translate hot guest code blocks into JavaScript; false runs the interpreter only), got ${describe(v)}`);
      return v;
    case 'args':
      if (typeof v !== 'string') throw new ConfigError(field, `args: expected a string (the kernel command line), got ${describe(v)}`);
      if (v.length > ARGS_MAX_LENGTH) throw new ConfigError(field, `args: longer than ${ARGS_MAX_LENGTH} characters (${v.length})`);
      // Multiboot's cmdline is a zero-terminated C string (Multiboot 0.6.96 §3.3).
      if (v.includes('\0')) throw new ConfigError(field, 'args: must not contain a NUL character (the command line is a C string)');
      return v;
    case 'devices':
      return parseDevices(v).names;
    case 'vmcs':
      return parseVmcsOverrides(v);
    case 'historyMiB': {
      const n = parseNumber(field, v);
      if (n < 0 || n > HISTORY_MIB_MAX) throw new ConfigError(field, `historyMiB: must be between 0 and ${HISTORY_MIB_MAX}, got ${n}`);
      return n;
    }
  }
}

const HEX_RE = /^0[xX][0-9a-fA-F]+$/;
const DEC_RE = /^[0-9]+$/;

/**
 * A non-negative integer up to 2^53 - 1 (Number.MAX_SAFE_INTEGER: every value exact), given as a JSON
 * number or a string in decimal or 0x-hex. Anything else (negative, fractional, "1e3", " 12", "0x") is
 * rejected with a message naming the field.
 */
export function parseNumber(field: string, v: unknown): number {
  let n: number;
  if (typeof v === 'number') {
    if (!Number.isFinite(v) || !Number.isInteger(v)) throw new ConfigError(field, `${field}: expected a whole number, got ${describe(v)}`);
    n = v === 0 ? 0 : v; // -0 becomes 0
  } else if (typeof v === 'string') {
    if (HEX_RE.test(v)) {
      const digits = v.slice(2).replace(/^0+(?=.)/, '');
      if (digits.length > 14) throw new ConfigError(field, `${field}: ${describe(v)} is larger than 2^53 - 1`);
      n = parseInt(digits, 16);
    } else if (DEC_RE.test(v)) {
      if (v.replace(/^0+(?=.)/, '').length > 16) throw new ConfigError(field, `${field}: ${describe(v)} is larger than 2^53 - 1`);
      n = parseInt(v, 10);
    } else {
      throw new ConfigError(field, `${field}: expected a number or a 0x-hex string, got ${describe(v)}`);
    }
  } else {
    throw new ConfigError(field, `${field}: expected a number or a 0x-hex string, got ${describe(v)}`);
  }
  if (n < 0) throw new ConfigError(field, `${field}: must not be negative, got ${n}`);
  if (n > Number.MAX_SAFE_INTEGER) throw new ConfigError(field, `${field}: ${describe(v)} is larger than 2^53 - 1`);
  return n;
}

function oneOf<T extends string>(field: string, v: unknown, allowed: readonly T[]): T {
  if (typeof v === 'string' && (allowed as readonly string[]).includes(v)) return v as T;
  const lower = typeof v === 'string' ? allowed.find((a) => a.toLowerCase() === v.toLowerCase()) : undefined;
  throw new ConfigError(
    field,
    `${field}: must be one of ${allowed.join(', ')}, got ${describe(v)}` + (lower !== undefined ? ` (did you mean "${lower}"?)` : ''),
  );
}

function clip(s: string): string {
  return s.length > 40 ? s.slice(0, 40) + '…' : s;
}

/** A short, safe rendering of an untrusted value for an error message. */
export function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  switch (typeof v) {
    case 'string':
      return JSON.stringify(clip(v));
    case 'number':
      return String(v);
    case 'boolean':
      return String(v);
    case 'undefined':
      return 'nothing';
    case 'object':
      return 'an object';
    default:
      return `a ${typeof v}`;
  }
}

/** The closest known name: same letters ignoring case, a known name the word begins, or edit distance <= 2 (and less than half the word). */
export function suggest(word: string, known: readonly string[]): string | null {
  if (word.length > 64) return null;
  const lw = word.toLowerCase();
  // A known name that starts with the word ("memory" -> "memoryMiB").
  if (lw.length >= 4) {
    const prefixed = known.find((k) => k.toLowerCase().startsWith(lw));
    if (prefixed !== undefined) return prefixed;
  }
  let best: string | null = null;
  let bestD = Infinity;
  for (const k of known) {
    if (k.toLowerCase() === lw) return k;
    const d = editDistance(lw, k.toLowerCase());
    if (d < bestD) {
      bestD = d;
      best = k;
    }
  }
  return bestD <= 2 && bestD * 2 < Math.max(word.length, 2) ? best : null;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length];
}

/**
 * `devices`: names ("uart", "virtio-rng", ...) or objects { "type": "virtio-blk", "image": "disk.img",
 * "readOnly": false, "writeThrough": false } and { "type": "virtio-rng", "seed": 42 }.
 */
function parseDevices(v: unknown): { names: string[]; disk?: DiskConfig; rngSeed?: number } {
  const field = 'devices';
  if (!Array.isArray(v)) throw new ConfigError(field, `devices: expected an array of device names, got ${describe(v)}`);
  if (v.length > DEVICE_NAMES.length * 4) throw new ConfigError(field, `devices: too many entries (${v.length})`);
  const names: string[] = [];
  let disk: DiskConfig | undefined;
  let rngSeed: number | undefined;
  for (let i = 0; i < v.length; i++) {
    const d: unknown = v[i];
    let name: string;
    if (typeof d === 'string') name = d;
    else if (typeof d === 'object' && d !== null && !Array.isArray(d)) {
      const o = d as Record<string, unknown>;
      if (typeof o.type !== 'string') throw new ConfigError(field, `devices[${i}]: an object entry needs "type" (a device name), got ${describe(o.type)}`);
      name = o.type;
      const allowed = name === 'virtio-blk' ? ['type', 'image', 'readOnly', 'writeThrough'] : name === 'virtio-rng' ? ['type', 'seed'] : ['type'];
      for (const k of Object.keys(o)) {
        if (!allowed.includes(k)) throw new ConfigError(field, `devices[${i}]: unknown field "${k}" for ${name}; allowed: ${allowed.join(', ')}`);
      }
      if (name === 'virtio-blk') {
        if (typeof o.image !== 'string' || o.image.length === 0 || o.image.includes('\0')) {
          throw new ConfigError(field, `devices[${i}]: virtio-blk needs "image", the path of a disk image, got ${describe(o.image)}`);
        }
        for (const b of ['readOnly', 'writeThrough'] as const) {
          if (o[b] !== undefined && typeof o[b] !== 'boolean') throw new ConfigError(field, `devices[${i}].${b}: expected true or false, got ${describe(o[b])}`);
        }
        if (o.readOnly === true && o.writeThrough === true) throw new ConfigError(field, `devices[${i}]: a read-only disk cannot be written through`);
        disk = { image: o.image, readOnly: o.readOnly === true, writeThrough: o.writeThrough === true };
      }
      if (name === 'virtio-rng' && o.seed !== undefined) {
        rngSeed = parseNumber(`devices[${i}].seed`, o.seed);
      }
    } else throw new ConfigError(field, `devices[${i}]: expected a device name or an object with "type", got ${describe(d)}`);
    if (!DEVICE_NAMES.includes(name)) {
      const guess = suggest(name, DEVICE_NAMES);
      throw new ConfigError(field, `devices[${i}]: unknown device ${describe(name)}` + (guess === null ? '' : ` (did you mean "${guess}"?)`) + `; known devices: ${DEVICE_NAMES.join(', ')}`);
    }
    if (names.includes(name)) throw new ConfigError(field, `devices[${i}]: "${name}" is listed twice`);
    if (name === 'virtio-blk' && disk === undefined) throw new ConfigError(field, `devices[${i}]: virtio-blk needs a disk image: write it as { "type": "virtio-blk", "image": "disk.img" }`);
    names.push(name);
  }
  return { names, disk, rngSeed };
}

/** `vmcs`: an object of VMCS field names (checked against the SDM's field table) to numbers or 0x-strings. */
function parseVmcsOverrides(v: unknown): Record<string, number> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new ConfigError('vmcs', `vmcs: expected an object of VMCS field names to values, got ${describe(v)}`);
  const out: Record<string, number> = {};
  const names = VMCS_FIELDS.map((f) => f.name as string);
  for (const [k, val] of Object.entries(v as Record<string, unknown>)) {
    if (!names.includes(k)) {
      const guess = suggest(k, names);
      throw new ConfigError('vmcs', `vmcs: unknown VMCS field "${k}"` + (guess === null ? '' : ` (did you mean "${guess}"?)`));
    }
    out[k] = parseNumber(`vmcs.${k}`, val);
  }
  return out;
}
