// The vmscope command as a user meets it: exit statuses, --json, and one clear line for every kind of bad input.
import { describe, expect, it, beforeAll } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = join(__dirname, '..', '..');
const CLI = join(ROOT, 'dist', 'cli.js');
const TMP = join(ROOT, 'test', '.tmp', 'cli');
const HELLO = join(ROOT, 'samples', 'hello', 'hello.elf');

function run(args: string[], input = ''): { status: number | null; stdout: string; stderr: string } {
  const p = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 60_000, input });
  return { status: p.status, stdout: p.stdout, stderr: p.stderr };
}

/** Flat 64-bit code: bytes written in the test, no assembler needed. */
function flat(name: string, bytes: number[]): string {
  const p = join(TMP, name);
  writeFileSync(p, Uint8Array.from(bytes));
  return p;
}

beforeAll(() => { mkdirSync(TMP, { recursive: true }); });

describe('vmscope run', () => {
  it('runs the hello sample, prints its output and exits 0', () => {
    const r = run(['run', HELLO]);
    expect(r.stdout).toBe('Hello, world!\n');
    expect(r.status).toBe(0);
  });

  it('--json ends stdout with one object describing the run', () => {
    const r = run(['run', HELLO, '--json']);
    const last = r.stdout.trim().split('\n').pop()!;
    const j = JSON.parse(last);
    expect(j.status).toBe('halted');
    expect(j.exitCode).toBe(0);
    expect(j.output).toBe('Hello, world!\n');
    expect(j.instructions).toBeGreaterThan(14);
    for (const k of ['rax', 'rbx', 'rcx', 'rdx', 'rsi', 'rdi', 'rbp', 'rsp', 'r8', 'r15', 'rip', 'rflags', 'cr0', 'cr2', 'cr3', 'cr4', 'efer']) {
      expect(j.registers[k], k).toMatch(/^0x[0-9a-f]+$/);
    }
    // One IO_INSTRUCTION exit per byte written to port 0xE9, then HLT (issue: hello shows 14 + 1).
    expect(j.vmExits).toEqual({ total: 15, byReason: { IO_INSTRUCTION: 14, HLT: 1 } });
  });

  it('a write to the isa-debug-exit port ends the run with (v << 1) | 1', () => {
    // mov al, 0x20 ; out 0xf4, al
    const img = flat('exit.bin', [0xb0, 0x20, 0xe6, 0xf4, 0xf4]);
    const r = run(['run', img, '--mode', 'long']);
    expect(r.status).toBe(0x41);
  });

  it('an exhausted budget says so on stderr and exits 6', () => {
    const img = flat('spin.bin', [0xeb, 0xfe]); // jmp $
    const r = run(['run', img, '--mode', 'protected', '--max-instructions', '0x1000']);
    expect(r.status).toBe(6);
    expect(r.stderr).toMatch(/budget of 4096 exhausted/);
  });

  it('a triple fault ends the run with one line and exit 4', () => {
    const img = flat('ud.bin', [0x0f, 0x0b]); // ud2 with no IDT → #UD → #GP... → triple fault
    const r = run(['run', img, '--mode', 'long', '--json']);
    expect(r.status).toBe(4);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/triple fault/);
    expect(JSON.parse(r.stdout.trim().split('\n').pop()!).status).toBe('triple-fault');
  });

  it('an unimplemented instruction is reported with its address, bytes and mnemonic', () => {
    // fsin (x87 arithmetic) in long mode, then the #UD escalates (no IDT)
    const img = flat('fsin.bin', [0xd9, 0xfe]);
    const r = run(['run', img, '--mode', 'long']);
    expect(r.stderr).toMatch(/unimplemented instruction at rip=0x100000: d9 fe \(fsin\)/);
  });

  const bad: Array<[string, () => string[], RegExp]> = [
    ['a missing file', () => ['run', join(TMP, 'nope.elf')], /cannot open image .*nope\.elf: no such file/],
    ['a directory', () => ['run', TMP], /is a directory/],
    ['an empty file', () => ['run', flat('empty.bin', [])], /empty/],
    ['a truncated ELF', () => ['run', flat('trunc.elf', Array.from(readFileSync(HELLO).subarray(0, 40)))], /ELF/],
    ['an unknown option', () => ['run', HELLO, '--frobnicate'], /frobnicate/],
    ['a bad number', () => ['run', HELLO, '--memory', '0xZZ'], /--memory/],
    ['an unknown mode', () => ['run', HELLO, '--mode', 'smm'], /mode/],
    ['a config file that is not JSON', () => { const p = join(TMP, 'bad.json'); writeFileSync(p, '{ nope'); return ['run', '--config', p]; }, /not valid JSON/],
    ['a config with a misspelt field', () => { const p = join(TMP, 'typo.json'); writeFileSync(p, JSON.stringify({ program: HELLO, cpumode: 'long' })); return ['run', '--config', p]; }, /did you mean "cpuMode"/],
    ['a segment outside guest memory', () => ['run', HELLO, '--memory', '1'], /outside guest memory/],
  ];
  for (const [what, args, msg] of bad) {
    it(`refuses ${what} with one clear line and exit 2`, () => {
      const r = run(args());
      expect(r.status).toBe(2);
      expect(r.stderr).toMatch(msg);
      expect(r.stderr).not.toMatch(/at .*\.js:\d+/); // no stack trace
      expect(r.stdout).toBe('');
    });
  }

  it('piped stdin reaches the guest through the COM1 UART', () => {
    const img = join(TMP, 'uart-echo.bin');
    execFileSync('nasm', ['-f', 'bin', '-o', img, join(__dirname, 'guests', 'uart-echo.asm')]);
    const r = run(['run', img, '--max-instructions', '1000000'], 'typed text\n');
    expect(r.stdout).toBe('typed text\n');
    expect(r.status).toBe(1);
  });

  it('--config takes a VS Code launch.json (comments, ${workspaceFolder}, #Name) and applies vmcs overrides', () => {
    const ws = join(TMP, 'ws');
    mkdirSync(join(ws, '.vscode'), { recursive: true });
    writeFileSync(join(ws, '.vscode', 'launch.json'), `{
      // comments and trailing commas are allowed, as in VS Code
      "configurations": [
        { "type": "node", "name": "not ours" },
        { "type": "vmscope", "request": "launch", "name": "Hello", "program": "\${workspaceFolder}/../../../../samples/hello/hello.elf", },
        { "type": "vmscope", "request": "launch", "name": "Broken CS", "program": "\${workspaceFolder}/../../../../samples/hello/hello.elf",
          "vmcs": { "GUEST_CS_AR_BYTES": "0x609b" } },
      ],
    }`);
    const cfg = join(ws, '.vscode', 'launch.json');
    const a = run(['run', '--config', cfg]);
    expect(a.stdout).toBe('Hello, world!\n');
    expect(a.status).toBe(0);
    const b = run(['run', '--config', `${cfg}#Broken CS`]);
    expect(b.status).toBe(2);
    expect(b.stderr).toMatch(/VM entry failed: invalid guest state: CS.L and CS.D both set/);
    const c = run(['run', '--config', `${cfg}#Nope`]);
    expect(c.status).toBe(2);
    expect(c.stderr).toMatch(/no vmscope configuration named "Nope" \(there are: "Hello", "Broken CS"\)/);
  });

  it('--help lists the run options', () => {
    const r = run(['--help']);
    expect(r.status).toBe(0);
    for (const o of ['--format', '--mode', '--load-address', '--entry', '--memory', '--append', '--max-instructions', '--config', '--json']) expect(r.stdout).toContain(o);
  });
});
