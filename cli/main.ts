// The `vmscope` command: reads the image and configuration, runs the machine, streams console output, reports the end.
import { readFileSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { HELP_TEXT, UsageError, buildLaunchConfig, parseArgs, type RunCommand } from './args.js';
import { ConfigError, LoadError, Machine, errorResult, type LaunchConfig, type RunResult } from '../emulator/index.js';
import { describeUnimplemented, disassemble } from './report.js';
import { nodeDiskOpener } from './disk.js';
import { testCommand } from './exercise/test-command.js';
import { tuneV8 } from '../debug-adapter/v8-tuning.js';

declare const VMSCOPE_VERSION: string;

function fail(message: string, json: boolean): number {
  process.stderr.write(`vmscope: ${message}\n`);
  if (json) process.stdout.write(JSON.stringify(errorResult(message)) + '\n');
  return 2;
}

function readImage(path: string): Uint8Array {
  let st;
  try {
    st = statSync(path);
  } catch {
    throw new LoadError(`cannot open image ${path}: no such file`);
  }
  if (st.isDirectory()) throw new LoadError(`image ${path} is a directory, not a file`);
  if (st.size > 1024 * 1024 * 1024) throw new LoadError(`image ${path} is ${st.size} bytes; images larger than 1 GiB are refused`);
  return new Uint8Array(readFileSync(path));
}

function runCommand(cmd: RunCommand): number | Promise<number> {
  let config: LaunchConfig;
  let programPath: string;
  try {
    let json: unknown;
    if (cmd.configPath !== undefined) {
      // FILE or FILE#Name (a configuration of a VS Code launch.json by its name).
      const hash = cmd.configPath.lastIndexOf('#');
      const file = hash > 0 ? cmd.configPath.slice(0, hash) : cmd.configPath;
      const wanted = hash > 0 ? cmd.configPath.slice(hash + 1) : undefined;
      cmd.configPath = file;
      let text: string;
      try { text = readFileSync(file, 'utf8'); } catch { throw new ConfigError('', `cannot read --config file ${file}`); }
      try { json = JSON.parse(stripJsonComments(text)); } catch (e) { throw new ConfigError('', `${file}: not valid JSON (${(e as Error).message})`); }
      json = selectLaunchConfiguration(json, file, wanted);
    }
    config = buildLaunchConfig(cmd, json);
    programPath = cmd.image !== undefined || cmd.configPath === undefined ? resolve(config.program) : resolve(dirname(cmd.configPath), config.program);
  } catch (e) {
    if (e instanceof UsageError || e instanceof ConfigError) return fail(e.message, cmd.json);
    throw e;
  }

  let machine: Machine;
  try {
    const bytes = readImage(programPath);
    machine = new Machine(bytes, config, {
      onConsole: cmd.json ? undefined : (byte) => writeByte(byte),
      openDisk: nodeDiskOpener(cmd.configPath !== undefined ? dirname(resolve(cmd.configPath)) : process.cwd()),
    });
  } catch (e) {
    if (e instanceof LoadError || e instanceof ConfigError || e instanceof RangeError) return fail(e.message, cmd.json);
    throw e;
  }
  for (const w of machine.image.warnings ?? []) process.stderr.write(`vmscope: warning: ${w}\n`);
  if (cmd.platform) process.stderr.write(platformTable(machine));
  if (cmd.traceExits && machine.hv !== null) {
    machine.hv.log.onExit = (e) => {
      flushOut();
      const asm = disassemble(e.bytes, e.bits, e.rip);
      const bytes = e.bytes.length > 0 ? ` [${e.bytes.map((b) => b.toString(16).padStart(2, '0')).join(' ')}${asm ? `: ${asm}` : ''}]` : '';
      process.stderr.write(`#${e.n} ${e.name}${e.summary ? ` ${e.summary}` : ''} rip=0x${BigInt.asUintN(64, BigInt(e.rip)).toString(16)}${bytes}${e.note ? ` (${e.note})` : ''}\n`);
    };
  }
  // Console input: piped stdin is read before the run (so the run stays reproducible); an interactive
  // terminal feeds keystrokes between run slices (such a run depends on typing, by nature).
  const interactive = process.stdin.isTTY === true && !cmd.json;
  if (!process.stdin.isTTY) {
    try {
      const input = readFileSync(0);
      if (input.length > 0) machine.pushConsoleInput(new Uint8Array(input));
    } catch { /* no readable stdin (closed or a directory): no console input */ }
  }
  if (interactive) return runInteractive(machine, cmd);
  const result = machine.runToEnd();
  flushOut();
  report(result, cmd, machine);
  return result.exitCode;
}

/** Run in slices, giving the event loop a turn between them so typed keys reach the guest's console. */
function runInteractive(machine: Machine, cmd: RunCommand): Promise<number> {
  process.stdin.setRawMode?.(true);
  const onData = (d: Buffer) => {
    if (d.length === 1 && d[0] === 0x1d) { process.stderr.write('\nvmscope: stopped by Ctrl-]\n'); process.exit(130); }
    machine.pushConsoleInput(new Uint8Array(d));
  };
  process.stdin.on('data', onData);
  return new Promise((done) => {
    const step = (): void => {
      const r = machine.runSlice(2_000_000);
      if (typeof r === 'object') {
        process.stdin.off('data', onData);
        process.stdin.setRawMode?.(false);
        process.stdin.pause();
        flushOut();
        report(r, cmd, machine);
        done(r.exitCode);
        return;
      }
      if (r === 'breakpoint') machine.cpu.resumeFromBreakpoint();
      flushOut();
      setImmediate(step);
    };
    step();
  });
}

// Console bytes are buffered and written in chunks (a byte-per-write stdout is slow).
let outBuf = Buffer.alloc(8192);
let outLen = 0;
function writeByte(b: number): void {
  outBuf[outLen++] = b;
  if (outLen === outBuf.length || b === 0x0a) flushOut();
}
function flushOut(): void {
  if (outLen === 0) return;
  process.stdout.write(Buffer.from(outBuf.subarray(0, outLen)));
  outBuf = Buffer.alloc(8192);
  outLen = 0;
}

function report(r: RunResult, cmd: RunCommand, m: Machine): void {
  for (const u of r.unimplemented) process.stderr.write(`vmscope: ${describeUnimplemented(u)}\n`);
  if (r.status === 'triple-fault') process.stderr.write(`vmscope: guest triple-faulted: ${r.message}\n`);
  else if (r.status === 'budget') process.stderr.write(`vmscope: ${r.message}\n`);
  else if (r.status === 'error' || r.status === 'reset') process.stderr.write(`vmscope: ${r.message}\n`);
  else if (r.message && r.status === 'halted') process.stderr.write(`vmscope: ${r.message}\n`);
  if (cmd.stats) {
    process.stderr.write(`\nAnalyze events for all VMs, all VCPUs (vmscope, like perf kvm stat):\n\n`);
    process.stderr.write(`${m.hv !== null ? m.hv.log.statsTable() : 'no hypervisor (bare-metal run)'}\n`);
    process.stderr.write(`\n${r.instructions} guest instructions, guest time ${m.cpu.icount + m.cpu.idleTicks} ns, status ${r.status}, exit code ${r.exitCode}\n`);
  }
  if (cmd.json) process.stdout.write(JSON.stringify(r) + '\n');
}

export function main(argv: readonly string[]): number | Promise<number> {
  let cmd;
  try {
    cmd = parseArgs(argv);
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`vmscope: ${e.message}\nTry 'vmscope --help'.\n`);
      return 2;
    }
    throw e;
  }
  if (cmd.command === 'help') { process.stdout.write(HELP_TEXT); return 0; }
  if (cmd.command === 'version') { process.stdout.write(`vmscope ${typeof VMSCOPE_VERSION === 'string' ? VMSCOPE_VERSION : 'dev'}\n`); return 0; }
  if (cmd.command === 'test') return testCommand(cmd);
  return runCommand(cmd);
}

tuneV8();
void Promise.resolve(main(process.argv.slice(2))).then((code) => { process.exitCode = code; });

/** The platform description as a table (devices, ports, MMIO windows, IRQs). */
function platformTable(m: Machine): string {
  const hx = (v: number, d: number) => `0x${v.toString(16).padStart(d, '0')}`;
  const rows = m.describePlatform().map((d) => {
    const ports = d.ports.map((r) => (r.first === r.last ? hx(r.first, 3) : `${hx(r.first, 3)}-${hx(r.last, 3)}`)).join(' ');
    const mmio = d.mmio !== null ? `${hx(d.mmio.base, 8)}-${hx(d.mmio.base + d.mmio.size - 1, 8)}` : '';
    const irq = d.irq !== null ? String(d.irq) : '';
    return `${d.name.padEnd(15)} ${ports.padEnd(28)} ${mmio.padEnd(23)} ${irq.padStart(3)}  ${d.description}`;
  });
  return `${'device'.padEnd(15)} ${'ports'.padEnd(28)} ${'mmio'.padEnd(23)} irq  description\n${rows.join('\n')}\n`;
}

/** launch.json allows comments and trailing commas (VS Code's JSONC); remove them outside strings. */
function stripJsonComments(text: string): string {
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (ch === '"') {
      let j = i + 1;
      while (j < text.length && text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      out += text.slice(i, j + 1);
      i = j;
    } else if (ch === '/' && text[i + 1] === '/') {
      while (i < text.length && text[i] !== '\n') i++;
      out += '\n';
    } else if (ch === '/' && text[i + 1] === '*') {
      i = text.indexOf('*/', i + 2);
      if (i < 0) break;
      i++;
    } else out += ch;
  }
  return out.replace(/,(\s*[}\]])/g, '$1');
}

/**
 * A --config file is either one launch configuration or a VS Code launch.json ({ "configurations": [...] }):
 * then the configuration named after '#' (or the first of type "vmscope") is used, with ${workspaceFolder}
 * standing for the folder that holds .vscode (or the file's folder).
 */
function selectLaunchConfiguration(json: unknown, file: string, wanted?: string): unknown {
  if (typeof json !== 'object' || json === null || !Array.isArray((json as { configurations?: unknown }).configurations)) {
    if (wanted !== undefined) throw new ConfigError('', `${file}: has no "configurations" to choose "${wanted}" from`);
    return json;
  }
  const list = (json as { configurations: Array<Record<string, unknown>> }).configurations.filter((c) => typeof c === 'object' && c !== null && c.type === 'vmscope');
  const chosen = wanted === undefined ? list[0] : list.find((c) => c.name === wanted);
  if (chosen === undefined) {
    const names = list.map((c) => JSON.stringify(c.name)).join(', ') || 'none';
    throw new ConfigError('', wanted === undefined ? `${file}: no configuration of type "vmscope"` : `${file}: no vmscope configuration named "${wanted}" (there are: ${names})`);
  }
  const dir = dirname(resolve(file));
  const workspace = dir.endsWith('/.vscode') || dir.endsWith('\\.vscode') ? dirname(dir) : dir;
  const subst = (v: unknown): unknown => {
    if (typeof v === 'string') return v.split('${workspaceFolder}').join(workspace);
    if (Array.isArray(v)) return v.map(subst);
    if (typeof v === 'object' && v !== null) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, subst(x)]));
    return v;
  };
  return subst(chosen);
}
