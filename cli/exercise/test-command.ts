// `vmscope test DIR`: copies the exercise to a scratch folder (overlaying solution/ with --solution), builds it, loads the handler module, runs with the budget and reports every check.
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, copyFileSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ConfigError, LoadError, Machine, parseLaunchConfig } from '../../emulator/index.js';
import { HandlerModuleError, installUserHandlers, validateHandlerModule, type HandlerModule } from '../../emulator/vmm/user-handlers.js';
import { buildGuest, hasGuestSources } from './guest-build.mjs';
import { evaluateCheck, junitReport, textReport, type Observation, type TestReport } from './checks.js';
import { ExerciseError, parseExercise, type ExerciseSpec } from './spec.js';
import { nodeDiskOpener } from '../disk.js';
import type { TestCommand } from '../args.js';


function broken(message: string, json: boolean): number {
  process.stderr.write(`vmscope: ${message}\n`);
  if (json) process.stdout.write(JSON.stringify({ error: message }) + '\n');
  return 2;
}

/** Load a student's handler module: ESM (import/export) or CommonJS (module.exports), whatever the surrounding package.json says. */
async function loadHandlerModule(file: string): Promise<HandlerModule> {
  const src = readFileSync(file, 'utf8');
  const esm = /^\s*(export\s|import\s[^(])/m.test(src);
  // A copy with an explicit extension decides the module system (a .js file's would follow the nearest package.json).
  const copy = file.replace(/\.[cm]?js$/, '') + (esm ? '.vmscope-load.mjs' : '.vmscope-load.cjs');
  writeFileSync(copy, src);
  const raw: unknown = esm ? await import(pathToFileURL(copy).href) : createRequire(copy)(copy);
  return validateHandlerModule(raw, basename(file));
}

/** Run the exercise in `work` (a scratch copy); returns the checks' report. Student mistakes become failed checks, never exceptions. */
async function runExercise(spec: ExerciseSpec, work: string, name: string): Promise<{ report: Omit<TestReport, 'exercise'>; built: string[] }> {
  const fail = (notRun: string, built: string[] = []) => {
    const checks = spec.checks.map((c) => evaluateCheck(c, null, notRun));
    return { report: { run: { notRun }, checks, totals: { passed: 0, failed: checks.length, total: checks.length } }, built };
  };
  let built: string[] = [];
  if (spec.build && hasGuestSources(work)) {
    try {
      built = buildGuest(work, name, work);
    } catch (e) {
      process.stderr.write(`${(e as Error).message}\n`);
      return fail(`the guest did not build (${(e as Error).message.split('\n').find((l) => /error/i.test(l))?.trim() ?? 'see the messages above'})`);
    }
  }
  let mod: HandlerModule | null = null;
  if (spec.handlers !== undefined) {
    const file = join(work, spec.handlers);
    if (!existsSync(file)) return fail(`the handler module ${spec.handlers} does not exist`, built);
    try {
      mod = await loadHandlerModule(file);
    } catch (e) {
      const msg = e instanceof HandlerModuleError ? e.message : `${spec.handlers} did not load: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}`;
      return fail(msg, built);
    }
  }
  const config = parseLaunchConfig({ ...spec.launch, maxInstructions: spec.maxInstructions }, { requireProgram: true });
  const program = resolve(work, config.program);
  if (!existsSync(program)) return fail(`the image ${config.program} does not exist${spec.build ? ' (no guest sources were built?)' : ''}`, built);
  let machine: Machine;
  try {
    machine = new Machine(new Uint8Array(readFileSync(program)), config, { openDisk: nodeDiskOpener(work) });
  } catch (e) {
    if (e instanceof LoadError || e instanceof ConfigError || e instanceof RangeError) return fail(`the image did not load: ${e.message}`, built);
    throw e;
  }
  const hv = machine.hv;
  if (hv === null) return fail('the machine has no hypervisor', built);
  const exitNames: string[] = [];
  hv.log.onExit = (e) => { if (exitNames.length < 1_000_000) exitNames.push(e.name); };
  const notes: string[] = [];
  if (mod !== null) installUserHandlers(hv, mod, notes);
  for (const n of notes) process.stderr.write(`setup: ${n}\n`);
  const result = machine.runToEnd();
  const obs: Observation = {
    result,
    exitNames,
    readMemory: (gpa, length) => {
      for (let k = 0; k < length; k += 4096) if (!hv.guest.isRam(gpa + k)) return null;
      if (!hv.guest.isRam(gpa + length - 1)) return null;
      return hv.guest.peek(gpa, length);
    },
  };
  const checks = spec.checks.map((c) => evaluateCheck(c, obs));
  const passed = checks.filter((c) => c.passed).length;
  return {
    report: {
      run: { status: result.status, exitCode: result.exitCode, message: result.message, instructions: result.instructions, vmExits: result.vmExits.total },
      checks,
      totals: { passed, failed: checks.length - passed, total: checks.length },
    },
    built,
  };
}

/** Copy the exercise folder (without solution/ and earlier loader copies) into `to`. */
function copyExercise(from: string, to: string): void {
  mkdirSync(to, { recursive: true });
  for (const f of readdirSync(from)) {
    if (f === 'solution' || f.includes('.vmscope-load.')) continue;
    cpSync(join(from, f), join(to, f), { recursive: true });
  }
}

export async function testCommand(cmd: TestCommand): Promise<number> {
  const dir = resolve(cmd.dir);
  if (!existsSync(dir) || !statSync(dir).isDirectory()) return broken(`test: ${cmd.dir} is not a folder`, cmd.json);
  const specFile = join(dir, 'exercise.json');
  if (!existsSync(specFile)) return broken(`test: ${cmd.dir} has no exercise.json (is it an exercise folder?)`, cmd.json);
  let spec: ExerciseSpec;
  try {
    spec = parseExercise(readFileSync(specFile, 'utf8'));
    parseLaunchConfig({ ...spec.launch, maxInstructions: spec.maxInstructions }, { requireProgram: true });
  } catch (e) {
    if (e instanceof ExerciseError) return broken(`${cmd.dir}/${e.message}`, cmd.json);
    if (e instanceof ConfigError) return broken(`${cmd.dir}/exercise.json: "launch${e.field ? `.${e.field}` : ''}": ${e.message}`, cmd.json);
    throw e;
  }
  if (cmd.solution && !existsSync(join(dir, 'solution'))) return broken(`test: ${cmd.dir} has no solution/ folder`, cmd.json);
  const name = basename(dir);
  const scratch = mkdtempSync(join(tmpdir(), 'vmscope-test-'));
  let out: Awaited<ReturnType<typeof runExercise>>;
  try {
    const work = join(scratch, name);
    copyExercise(dir, work);
    if (cmd.solution) cpSync(join(dir, 'solution'), work, { recursive: true });
    out = await runExercise(spec, work, name);
    // The student's own folder gets the built images, so the debugger (F5) runs exactly what was tested.
    if (!cmd.solution) for (const f of out.built) { try { copyFileSync(join(work, f), join(dir, f)); } catch { /* read-only folder: fine */ } }
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
  const report: TestReport = { exercise: { dir: cmd.dir, title: spec.title, kind: spec.kind, solution: cmd.solution }, ...out.report };
  if (cmd.json) process.stdout.write(JSON.stringify(report) + '\n');
  else process.stdout.write(textReport(report));
  if (cmd.junit !== undefined) {
    try {
      mkdirSync(dirname(resolve(cmd.junit)), { recursive: true });
      writeFileSync(cmd.junit, junitReport(report, name));
    } catch (e) {
      return broken(`test: cannot write --junit ${cmd.junit}: ${(e as Error).message}`, false);
    }
  }
  return report.totals.failed === 0 ? 0 : 1;
}
