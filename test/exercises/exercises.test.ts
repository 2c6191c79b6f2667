// `vmscope test` on every classroom exercise (samples/exercises): solutions pass, starters fail with hints, JSON/JUnit reports, budgets, throwing handlers, broken exercise.json.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '..', '..');
const CLI = join(ROOT, 'dist', 'cli.js');
const EXERCISES = join(ROOT, 'samples', 'exercises');
const TMP = join(ROOT, 'test', '.tmp', 'exercises');
const names = readdirSync(EXERCISES).filter((d) => existsSync(join(EXERCISES, d, 'exercise.json'))).sort();

const has = (cmd: string, arg = '--version') => {
  try { return spawnSync(cmd, [arg], { stdio: 'ignore' }).status === 0; } catch { return false; }
};
const tools = has('nasm', '-v') && has('gcc') && has('ld') && has('objcopy');

interface JsonReport {
  exercise: { title: string; kind: string; solution: boolean };
  run: { status: string; exitCode: number; message?: string } | { notRun: string };
  checks: Array<{ name: string; passed: boolean; expected: string; actual: string; hint: string }>;
  totals: { passed: number; failed: number; total: number };
}

function vmscope(...args: string[]) {
  const p = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 120_000, input: '' });
  return { status: p.status, stdout: p.stdout, stderr: p.stderr };
}

/** A scratch copy of an exercise (so a starter's build never writes into samples/), optionally with files replaced. */
function copyOf(name: string, tag: string, files: Record<string, string> = {}): string {
  const dir = join(TMP, tag, name);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(join(TMP, tag), { recursive: true });
  cpSync(join(EXERCISES, name), dir, { recursive: true });
  for (const [f, text] of Object.entries(files)) writeFileSync(join(dir, f), text);
  return dir;
}

function spec(name: string): { checks: Array<{ name: string; hint: string }>; kind: string } {
  return JSON.parse(readFileSync(join(EXERCISES, name, 'exercise.json'), 'utf8'));
}

/** A small well-formedness check for XML: balanced tags, quoted attributes, only the five predefined entities. */
function wellFormed(xmlText: string): boolean {
  const body = xmlText.replace(/^<\?xml[^?]*\?>\s*/, '');
  const stack: string[] = [];
  const re = /<(\/?)([A-Za-z_][\w.-]*)((?:\s+[A-Za-z_][\w.-]*="[^"<]*")*)\s*(\/?)>|([^<]+)|(<)/g;
  let m: RegExpExecArray | null;
  let roots = 0;
  while ((m = re.exec(body)) !== null) {
    if (m[6] !== undefined) return false; // a '<' that starts no valid tag
    const text = m[5] ?? m[3] ?? '';
    if (/&(?!(amp|lt|gt|quot|apos);)/.test(text)) return false;
    if (m[5] !== undefined) { if (stack.length === 0 && m[5].trim() !== '') return false; continue; }
    if (m[1] === '/') { if (stack.pop() !== m[2]) return false; continue; }
    if (stack.length === 0) roots++;
    if (m[4] !== '/') stack.push(m[2]);
  }
  return stack.length === 0 && roots === 1;
}

const unescapeXml = (s: string) => s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&amp;/g, '&');

beforeAll(() => {
  if (!existsSync(CLI)) spawnSync('npm', ['run', 'build', '--silent'], { cwd: ROOT, stdio: 'ignore' });
});

describe.skipIf(!tools)('vmscope test: the exercises', () => {
  it('there are at least 8 exercises, guest and hypervisor side', () => {
    expect(names.length).toBeGreaterThanOrEqual(8);
    const kinds = names.map((n) => spec(n).kind);
    expect(kinds.filter((k) => k === 'guest').length).toBeGreaterThanOrEqual(4);
    expect(kinds.filter((k) => k === 'hypervisor').length).toBeGreaterThanOrEqual(4);
    for (const n of names) {
      expect(existsSync(join(EXERCISES, n, 'README.md'))).toBe(true);
      expect(readdirSync(join(EXERCISES, n, 'solution')).length).toBeGreaterThan(0);
    }
  });

  for (const name of names) {
    describe(name, () => {
      it('the reference solution passes every check (--json totals agree)', () => {
        const r = vmscope('test', join(EXERCISES, name), '--solution', '--json');
        const rep = JSON.parse(r.stdout) as JsonReport;
        expect(rep.checks.filter((c) => !c.passed).map((c) => `${c.name}: expected ${c.expected}, saw ${c.actual}`)).toEqual([]);
        expect(rep.totals).toEqual({ passed: spec(name).checks.length, failed: 0, total: spec(name).checks.length });
        expect(rep.exercise.solution).toBe(true);
        expect(r.status).toBe(0);
      });

      it('the starter fails at least one check, showing its hint', () => {
        const dir = copyOf(name, 'starter');
        const text = vmscope('test', dir);
        expect(text.status).toBe(1);
        const json = vmscope('test', dir, '--json');
        expect(json.status).toBe(1);
        const rep = JSON.parse(json.stdout) as JsonReport;
        const failed = rep.checks.filter((c) => !c.passed);
        expect(failed.length).toBeGreaterThan(0);
        expect(rep.totals.failed).toBe(failed.length);
        expect(rep.totals.passed + rep.totals.failed).toBe(rep.totals.total);
        expect(rep.totals.total).toBe(spec(name).checks.length);
        // Each failing check's hint is the one exercise.json gives, and the text report prints it under a FAIL line.
        const hints = new Map(spec(name).checks.map((c) => [c.name, c.hint]));
        for (const f of failed) {
          expect(f.hint).toBe(hints.get(f.name));
          expect(text.stdout).toContain(`FAIL`);
          expect(text.stdout).toContain(f.name);
          expect(text.stdout).toContain(`hint:     ${f.hint}`);
        }
        expect(text.stdout).toMatch(new RegExp(`^${rep.totals.passed} of ${rep.totals.total} checks passed$`, 'm'));
      });
    });
  }
});

describe.skipIf(!tools)('vmscope test: reports and failures', () => {
  it('--junit writes well-formed XML: one testcase per check, failures with escaped messages', () => {
    const dir = copyOf('01-port-hello', 'junit');
    const e = JSON.parse(readFileSync(join(dir, 'exercise.json'), 'utf8'));
    e.checks[0].name = 'prints <the> "greeting" & \'more\'';
    writeFileSync(join(dir, 'exercise.json'), JSON.stringify(e));
    const out = join(TMP, 'junit', 'report.xml');
    const r = vmscope('test', dir, '--junit', out);
    expect(r.status).toBe(1);
    const xml = readFileSync(out, 'utf8');
    expect(wellFormed(xml)).toBe(true);
    expect(wellFormed('<a><b></a></b>')).toBe(false); // the checker itself can fail
    expect(wellFormed('<a>x & y</a>')).toBe(false);
    expect((xml.match(/<testcase /g) ?? []).length).toBe(e.checks.length);
    expect((xml.match(/<failure /g) ?? []).length).toBe(e.checks.length); // the starter passes nothing
    expect(xml).toMatch(/<testsuite name="01-port-hello" tests="4" failures="4"/);
    const names = [...xml.matchAll(/<testcase [^>]*name="([^"]*)"/g)].map((m) => unescapeXml(m[1]));
    expect(names[0]).toBe(e.checks[0].name);
    const messages = [...xml.matchAll(/<failure message="([^"]*)"/g)].map((m) => unescapeXml(m[1]));
    expect(messages[0]).toContain('expected "Hello from the guest!\\n"');
    // And the solution: no failures.
    const ok = vmscope('test', join(EXERCISES, '01-port-hello'), '--solution', '--junit', out);
    expect(ok.status).toBe(0);
    const okXml = readFileSync(out, 'utf8');
    expect(wellFormed(okXml)).toBe(true);
    expect(okXml).not.toContain('<failure');
  });

  it('a guest that loops forever fails by the budget with a clear line', () => {
    const dir = copyOf('01-port-hello', 'loop', {
      'guest.asm': 'bits 64\nsection .text\nglobal _start\n_start:\n.spin: jmp .spin\n',
    });
    const t0 = Date.now();
    const r = vmscope('test', dir);
    expect(Date.now() - t0).toBeLessThan(60_000);
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(/^run: status budget, exit code 6, /m);
    expect(r.stdout).toMatch(/^run: instruction budget of 1000000 exhausted at rip=0x1000\d\d — the guest never finished/m);
    expect(r.stdout).toMatch(/^FAIL 2 ends through isa-debug-exit with exit code 1\n\s+expected: status debug-exit, exit code 1\n\s+saw:\s+status budget/m);
  });

  it('a handler that does not advance RIP fails by the budget, not a hang', () => {
    const dir = copyOf('07-hypercall', 'norip', {
      'handlers.js': "module.exports = { handlers: { VMCALL(vcpu, next) { if (vcpu.reg('rax') === 0x100n) { vcpu.setReg('rbx', 5); return 'emulated'; } return next(); } } };\n",
    });
    const rep = JSON.parse(vmscope('test', dir, '--json').stdout) as JsonReport;
    expect('status' in rep.run && rep.run.status).toBe('budget');
    expect(rep.checks.find((c) => c.name === 'every VMCALL exits once')?.passed).toBe(false);
  });

  it('a handler that throws ends the run with status error, reported as such', () => {
    const dir = copyOf('07-hypercall', 'throws', {
      'handlers.js': "module.exports = { handlers: { VMCALL(vcpu, next) { if (vcpu.reg('rax') === 0x100n) throw new Error('boom at ' + vcpu.exit.name); return next(); } } };\n",
    });
    const r = vmscope('test', dir);
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(/^run: status error, exit code 2, /m);
    expect(r.stdout).toMatch(/^run: handler for VMCALL threw: boom at VMCALL$/m);
    const rep = JSON.parse(vmscope('test', dir, '--json').stdout) as JsonReport;
    expect(rep.run).toMatchObject({ status: 'error', message: 'handler for VMCALL threw: boom at VMCALL' });
  });

  it('setup() that throws and a module with an unknown exit reason are reported, not crashes', () => {
    const a = copyOf('09-ept-dirty-log', 'setupthrows', { 'handlers.js': "module.exports = { setup(vmm) { vmm.eptProtect(0x300000, 2); }, handlers: {} };\n" });
    const ra = JSON.parse(vmscope('test', a, '--json').stdout) as JsonReport;
    expect(ra.run).toMatchObject({ status: 'error' });
    expect((ra.run as { message: string }).message).toMatch(/^setup threw: eptProtect: write without read is an EPT misconfiguration/);

    const b = copyOf('05-hide-cpuid-feature', 'badname', { 'handlers.js': 'module.exports = { handlers: { CPUIDX(vcpu, next) { return next(); } } };\n' });
    const rb = vmscope('test', b);
    expect(rb.status).toBe(1);
    expect(rb.stdout).toMatch(/not run: handlers\.js: unknown exit reason "CPUIDX" in handlers; valid names: EXCEPTION_NMI, EXTERNAL_INTERRUPT, .*CPUID, /);

    const c = copyOf('05-hide-cpuid-feature', 'syntax', { 'handlers.js': 'module.exports = { handlers: { CPUID(vcpu, next) { return next( } } };\n' });
    const rc = vmscope('test', c);
    expect(rc.status).toBe(1);
    expect(rc.stdout).toMatch(/not run: handlers\.js did not load: /);
  });

  it('a guest that does not assemble fails every check with the build error', () => {
    const dir = copyOf('01-port-hello', 'nobuild', { 'guest.asm': 'bits 64\n_start: mov rax,, 1\n' });
    const r = vmscope('test', dir);
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(/^run: not run: the guest did not build \(.*error/m);
    expect(r.stderr).toMatch(/nasm/);
  });

  it('a malformed exercise.json is a usage error naming the field', () => {
    const cases: Array<[(e: Record<string, any>) => void, RegExp]> = [
      [(e) => { delete e.checks[1].hint; }, /exercise\.json: "checks\[1\]\.hint" must be a non-empty string/],
      [(e) => { e.checks[0].exits = { NOPE: 1 }; }, /"checks\[0\]" must have exactly one of/],
      [(e) => { e.checks[2].exits = { NOPE: 1 }; delete e.checks[2].status; delete e.checks[2].exitCode; }, /"checks\[2\]\.exits": unknown exit reason "NOPE"/],
      [(e) => { e.checks[0].outputMatches = '(['; delete e.checks[0].output; }, /"checks\[0\]\.outputMatches" is not a valid regular expression/],
      [(e) => { e.launch.cpuMode = 'turbo'; }, /"launch\.cpuMode"/],
      [(e) => { e.kind = 'teacher'; }, /"kind" must be "guest" or "hypervisor"/],
      [(e) => { e.maxInstructions = -5; }, /"maxInstructions" must be a whole number/],
      [(e) => { e.checks[3].registers = { xmm0: '0' }; delete e.checks[3].exits; }, /"checks\[3\]\.registers\.xmm0": unknown register/],
    ];
    for (const [mutate, want] of cases) {
      const dir = copyOf('01-port-hello', 'malformed');
      const e = JSON.parse(readFileSync(join(dir, 'exercise.json'), 'utf8'));
      mutate(e);
      writeFileSync(join(dir, 'exercise.json'), JSON.stringify(e));
      const r = vmscope('test', dir);
      expect(r.status, String(want)).toBe(2);
      expect(r.stderr).toMatch(want);
      expect(r.stdout).toBe('');
    }
    const dir = copyOf('01-port-hello', 'malformed');
    writeFileSync(join(dir, 'exercise.json'), '{ "title": ');
    const r = vmscope('test', dir, '--json');
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/exercise\.json: not valid JSON/);
    expect(JSON.parse(r.stdout).error).toMatch(/not valid JSON/);
  });

  it('usage errors: no folder, an unknown option, a folder without exercise.json', () => {
    expect(vmscope('test').status).toBe(2);
    const u = vmscope('test', join(EXERCISES, '01-port-hello'), '--solutoin');
    expect(u.status).toBe(2);
    expect(u.stderr).toMatch(/unknown option "--solutoin"/);
    const n = vmscope('test', EXERCISES);
    expect(n.status).toBe(2);
    expect(n.stderr).toMatch(/has no exercise\.json/);
    expect(vmscope('--help').stdout).toMatch(/vmscope test EXERCISE_DIR \[--solution\] \[--json\] \[--junit FILE\]/);
  });
});
