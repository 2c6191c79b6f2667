// Command-line parsing for `vmscope` (no I/O): argv -> a typed command, help text, and merging with a --config file.
import { ConfigError, parseLaunchConfig, suggest, validateField, type LaunchConfig } from '../emulator/config.js';

/** A command line that cannot be understood; the message is one line, ready to print after "vmscope: ". */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export interface RunCommand {
  command: 'run';
  image?: string;
  /** Path given to --config; the caller reads and JSON-parses the file, then calls buildLaunchConfig. */
  configPath?: string;
  /** Launch-configuration fields set on the command line (each already validated on its own). */
  overrides: Partial<LaunchConfig>;
  json: boolean;
  stats: boolean;
  traceExits: boolean;
  /** Print the platform description (devices, ports, MMIO windows, IRQs) before running. */
  platform: boolean;
}

/** `vmscope test DIR [--solution] [--json] [--junit FILE]`: check a classroom exercise (samples/exercises/README.md). */
export interface TestCommand {
  command: 'test';
  dir: string;
  /** Overlay the exercise's solution/ folder (in a scratch copy) before checking. */
  solution: boolean;
  json: boolean;
  junit?: string;
}

export type CliCommand = RunCommand | TestCommand | { command: 'help' } | { command: 'version' };

type ValueOption = { kind: 'value'; field: 'format' | 'loadAddress' | 'entry' | 'cpuMode' | 'memoryMiB' | 'args' | 'maxInstructions' } | { kind: 'config' };
type FlagOption = { kind: 'flag'; flag: 'json' | 'stats' | 'traceExits' | 'platform' } | { kind: 'help' } | { kind: 'version' };

/** Every option of `vmscope run` and the launch-configuration field it sets. */
export const OPTIONS: Readonly<Record<string, ValueOption | FlagOption>> = {
  '--format': { kind: 'value', field: 'format' },
  '--load-address': { kind: 'value', field: 'loadAddress' },
  '--entry': { kind: 'value', field: 'entry' },
  '--mode': { kind: 'value', field: 'cpuMode' },
  '--memory': { kind: 'value', field: 'memoryMiB' },
  '--append': { kind: 'value', field: 'args' },
  '--max-instructions': { kind: 'value', field: 'maxInstructions' },
  '--config': { kind: 'config' },
  '--json': { kind: 'flag', flag: 'json' },
  '--stats': { kind: 'flag', flag: 'stats' },
  '--trace-exits': { kind: 'flag', flag: 'traceExits' },
  '--platform': { kind: 'flag', flag: 'platform' },
  '--help': { kind: 'help' },
  '-h': { kind: 'help' },
  '--version': { kind: 'version' },
};

export const HELP_TEXT = `vmscope - run an x86 guest on an emulated VT-x hypervisor

Usage:
  vmscope run IMAGE [options]
  vmscope run --config FILE [options]
  vmscope test EXERCISE_DIR [--solution] [--json] [--junit FILE]
  vmscope --help | --version

Options:
  --format auto|elf|multiboot|flat
                         how to load IMAGE (default: auto, from its header)
  --load-address N       physical load address of a flat image
  --entry N              entry point (overrides the image's)
  --mode real|protected|paged32|long
                         CPU mode at entry (default: from the image)
  --memory MIB           guest RAM in MiB, 1..65536 (default: 64)
  --append "CMDLINE"     kernel command line passed to a multiboot guest
  --max-instructions N   stop after N instructions (default: 10000000000)
  --config FILE          read a launch configuration (JSON, as in launch.json);
                         options on the command line override its fields
  --json                 print the result as JSON
  --stats                print run statistics (instructions, VM exits)
  --trace-exits          print every VM exit as it happens
  --platform             print the devices: ports, MMIO windows, IRQs
  -h, --help             show this help
  --version              print the version

Test options (vmscope test: build, run and check a classroom exercise; exit
status 0 when every check passes, 1 when one fails, 2 for a broken exercise):
  --solution             check the exercise's reference solution/ instead
  --json                 print the report as one JSON object
  --junit FILE           also write the report as JUnit XML

Numbers are decimal or 0x-hex. Options take "--opt value" or "--opt=value".
The guest's console (port 0xE9 and COM1) goes to standard output; a write of v
to port 0xF4 (isa-debug-exit) ends the run with exit status (v << 1) | 1.

Examples:
  vmscope run samples/hello/hello.bin --mode long
  vmscope run kernel.elf --memory 128 --append "console=ttyS0 debug"
  vmscope run boot.bin --format flat --load-address 0x7c00 --mode real
  vmscope run --config .vscode/vmscope.json --max-instructions=1000000 --stats
  vmscope test samples/exercises/01-port-hello
`;

/** Parse `argv` (process.argv.slice(2)). Throws UsageError. -h/--help and --version win over anything else. */
export function parseArgs(argv: readonly string[]): CliCommand {
  const end = argv.indexOf('--');
  const optionPart = end < 0 ? argv : argv.slice(0, end);
  if (optionPart.some((a) => a === '-h' || a === '--help')) return { command: 'help' };
  if (optionPart.some((a) => a === '--version')) return { command: 'version' };
  if (argv.length === 0) return { command: 'help' };

  const first = argv[0];
  if (first === 'help') return { command: 'help' };
  if (first === 'version') return { command: 'version' };
  if (first === 'test') return parseTestArgs(argv.slice(1));
  if (first !== 'run') {
    if (first.startsWith('-')) throw new UsageError(`expected a command before ${quote(first)}; try 'vmscope run IMAGE' or 'vmscope --help'`);
    throw new UsageError(`unknown command ${quote(first)} (commands: run, test, help, version)`);
  }

  const cmd: RunCommand = { command: 'run', overrides: {}, json: false, stats: false, traceExits: false, platform: false };
  const overrides: Record<string, unknown> = cmd.overrides;
  let positionalOnly = false;
  for (let i = 1; i < argv.length; i++) {
    const a = argv[i];
    if (!positionalOnly && a === '--') {
      positionalOnly = true;
      continue;
    }
    if (positionalOnly || !a.startsWith('-') || a === '-') {
      if (cmd.image !== undefined) throw new UsageError(`unexpected argument ${quote(a)} (IMAGE is already ${quote(cmd.image)})`);
      if (a.length === 0) throw new UsageError('IMAGE must not be empty');
      cmd.image = a;
      continue;
    }
    const eq = a.startsWith('--') ? a.indexOf('=') : -1;
    const name = eq < 0 ? a : a.slice(0, eq);
    const opt = OPTIONS[name];
    if (opt === undefined) {
      const guess = nearestOption(name);
      throw new UsageError(`unknown option ${quote(name)}` + (guess === null ? '' : ` (did you mean ${guess}?)`));
    }
    if (opt.kind === 'value' || opt.kind === 'config') {
      let value: string;
      if (eq >= 0) value = a.slice(eq + 1);
      else {
        if (i + 1 >= argv.length) throw new UsageError(`${name} needs a value`);
        value = argv[++i];
      }
      if (opt.kind === 'config') {
        if (value.length === 0) throw new UsageError('--config needs a file name');
        cmd.configPath = value;
      } else {
        overrides[opt.field] = checkOption(name, opt.field, value);
      }
    } else {
      if (eq >= 0) throw new UsageError(`${name} takes no value`);
      if (opt.kind === 'flag') cmd[opt.flag] = true;
    }
  }
  if (cmd.image === undefined && cmd.configPath === undefined) {
    throw new UsageError("run: missing IMAGE (or --config FILE with a \"program\" field); try 'vmscope --help'");
  }
  return cmd;
}

function parseTestArgs(args: readonly string[]): TestCommand {
  const cmd: TestCommand = { command: 'test', dir: '', solution: false, json: false };
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '--solution') cmd.solution = true;
    else if (a === '--json') cmd.json = true;
    else if (a === '--junit' || a.startsWith('--junit=')) {
      const v = a === '--junit' ? args[++i] : a.slice('--junit='.length);
      if (v === undefined || v.length === 0) throw new UsageError('--junit needs a file name');
      cmd.junit = v;
    } else if (a.startsWith('-')) throw new UsageError(`test: unknown option ${quote(a)} (options: --solution, --json, --junit FILE)`);
    else if (cmd.dir !== '') throw new UsageError(`test: unexpected argument ${quote(a)} (EXERCISE_DIR is already ${quote(cmd.dir)})`);
    else cmd.dir = a;
  }
  if (cmd.dir === '') throw new UsageError("test: missing EXERCISE_DIR; try 'vmscope test samples/exercises/01-port-hello'");
  return cmd;
}

function checkOption(option: string, field: Extract<ValueOption, { kind: 'value' }>['field'], value: string): unknown {
  try {
    return validateField(field, value);
  } catch (e) {
    if (e instanceof ConfigError) throw new UsageError(`${option}: ${e.message.replace(/^[A-Za-z]+: /, '')}`);
    throw e;
  }
}

/**
 * The launch configuration of a run: fields of the --config JSON (if any), overridden by the command
 * line's options and IMAGE (which replaces "program"), then validated by parseLaunchConfig. Throws
 * ConfigError for bad configuration content and UsageError when no program is given anywhere. A relative
 * "program" from the file is returned unchanged: resolving it against the file's folder is the caller's job.
 */
export function buildLaunchConfig(cmd: RunCommand, configJson?: unknown): LaunchConfig {
  let base: Record<string, unknown> = {};
  if (configJson !== undefined) {
    if (typeof configJson !== 'object' || configJson === null || Array.isArray(configJson)) {
      throw new ConfigError('', `${cmd.configPath ?? '--config'}: expected a JSON object`);
    }
    base = configJson as Record<string, unknown>;
  }
  const merged: Record<string, unknown> = { ...base, ...cmd.overrides };
  if (cmd.image !== undefined) merged.program = cmd.image;
  if (merged.program === undefined) {
    throw new UsageError(`missing IMAGE: give it after 'run' or as "program" in ${cmd.configPath ?? 'the --config file'}`);
  }
  return parseLaunchConfig(merged, { requireProgram: true });
}

function quote(s: string): string {
  return JSON.stringify(s.length > 40 ? s.slice(0, 40) + '…' : s);
}

function nearestOption(name: string): string | null {
  const longNames = Object.keys(OPTIONS).filter((o) => o.startsWith('--')).map((o) => o.slice(2));
  const g = suggest(name.replace(/^-+/, ''), longNames);
  return g === null ? null : '--' + g;
}
