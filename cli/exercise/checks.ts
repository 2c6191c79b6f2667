// Evaluation of an exercise's checks against what a run produced (output, status, VM exits, registers, memory), and the text/JSON/JUnit reports.
import type { RunResult } from '../../emulator/index.js';
import type { CheckSpec } from './spec.js';

/** What the checks look at: the run's result, every exit's name in order, guest memory after the run. */
export interface Observation {
  result: RunResult;
  exitNames: readonly string[];
  /** Guest-physical bytes after the run, or null when the range is not RAM. */
  readMemory(gpa: number, length: number): Uint8Array | null;
}

export interface CheckOutcome {
  name: string;
  passed: boolean;
  expected: string;
  actual: string;
  hint: string;
}

const hexBytes = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
const hex = (v: bigint) => `0x${v.toString(16)}`;

/** A short, one-line rendering of text for a report (control characters escaped, long text cut). */
export function showText(s: string, max = 400): string {
  const j = JSON.stringify(s);
  return j.length > max ? `${j.slice(0, max - 2)}…"` : j;
}

/** Where two texts first differ, for an output check that fails. */
function firstDifference(want: string, got: string): string {
  let i = 0;
  while (i < want.length && i < got.length && want[i] === got[i]) i++;
  const line = want.slice(0, i).split('\n').length;
  return `line ${line}: expected ${showText(want.slice(i, i + 40))}, saw ${showText(got.slice(i, i + 40))}`;
}

/** Evaluate one check. `notRun` (a build or load failure) fails every check with that reason. */
export function evaluateCheck(c: CheckSpec, obs: Observation | null, notRun?: string): CheckOutcome {
  const out = (passed: boolean, expected: string, actual: string): CheckOutcome => ({ name: c.name, passed, expected, actual, hint: c.hint });
  const expected = describeExpected(c);
  if (obs === null) return out(false, expected, `not run: ${notRun ?? 'no run'}`);
  const r = obs.result;
  switch (c.kind) {
    case 'output':
      return r.output === c.output ? out(true, expected, showText(r.output)) : out(false, expected, `${showText(r.output)} (${firstDifference(c.output, r.output)})`);
    case 'outputMatches':
      return out(c.regex.test(r.output), expected, showText(r.output));
    case 'status': {
      const okStatus = r.status === c.status;
      const okCode = c.exitCode === undefined || r.exitCode === c.exitCode;
      return out(okStatus && okCode, expected, `status ${r.status}, exit code ${r.exitCode}${r.message ? ` (${r.message})` : ''}`);
    }
    case 'exits': {
      const bad: string[] = [], seen: string[] = [];
      for (const [name, b] of Object.entries(c.exits)) {
        const n = r.vmExits.byReason[name] ?? 0;
        seen.push(`${name} ${n}`);
        if ((b.min !== undefined && n < b.min) || (b.max !== undefined && n > b.max)) bad.push(name);
      }
      return out(bad.length === 0, expected, seen.join(', '));
    }
    case 'exitSequence': {
      // In order, as a subsequence of all exits.
      let k = 0;
      for (const n of obs.exitNames) { if (k < c.sequence.length && n === c.sequence[k]) k++; }
      const passed = k === c.sequence.length;
      const head = obs.exitNames.slice(0, 12).join(', ') + (obs.exitNames.length > 12 ? `, … (${obs.exitNames.length} exits)` : '');
      return out(passed, expected, passed ? `found in ${obs.exitNames.length} exits` : `matched ${k} of ${c.sequence.length} (missing ${c.sequence[k]}); exits: ${head || 'none'}`);
    }
    case 'registers': {
      const seen: string[] = [];
      let passed = true;
      for (const [name, want] of Object.entries(c.registers)) {
        const v = r.registers[name];
        const got = v === undefined ? undefined : BigInt(v);
        seen.push(`${name}=${got === undefined ? '?' : hex(got)}`);
        if (got !== want) passed = false;
      }
      return out(passed, expected, seen.join(', '));
    }
    case 'memory': {
      const got = obs.readMemory(c.gpa, c.bytes.length);
      if (got === null) return out(false, expected, `guest-physical 0x${c.gpa.toString(16)} is not RAM`);
      const passed = got.length === c.bytes.length && got.every((b, k) => b === c.bytes[k]);
      return out(passed, expected, hexBytes(got));
    }
  }
}

function describeExpected(c: CheckSpec): string {
  switch (c.kind) {
    case 'output': return showText(c.output);
    case 'outputMatches': return `output matching /${c.pattern}/`;
    case 'status': return `status ${c.status}${c.exitCode !== undefined ? `, exit code ${c.exitCode}` : ''}`;
    case 'exits':
      return Object.entries(c.exits).map(([n, b]) => (b.min === b.max ? `${n} exactly ${b.min}` : `${n} ${b.min ?? 0}..${b.max ?? '∞'}`)).join(', ');
    case 'exitSequence': return `exits in order ${c.sequence.join(' → ')}`;
    case 'registers': return Object.entries(c.registers).map(([n, v]) => `${n}=${hex(v)}`).join(', ');
    case 'memory': return `0x${c.gpa.toString(16)}: ${hexBytes(c.bytes)}`;
  }
}

export interface TestReport {
  exercise: { dir: string; title: string; kind: string; solution: boolean };
  run: { status: string; exitCode: number; message?: string; instructions: number; vmExits: number } | { notRun: string };
  checks: CheckOutcome[];
  totals: { passed: number; failed: number; total: number };
}

/** The human-readable report: one line per check, hints under failures, a summary. */
export function textReport(r: TestReport): string {
  const lines: string[] = [`vmscope test: ${r.exercise.title} (${r.exercise.kind} exercise${r.exercise.solution ? ', reference solution' : ''})`];
  if ('notRun' in r.run) lines.push(`run: not run: ${r.run.notRun}`);
  else {
    lines.push(`run: status ${r.run.status}, exit code ${r.run.exitCode}, ${r.run.instructions} instructions, ${r.run.vmExits} VM exits`);
    if (r.run.status === 'budget') lines.push(`run: ${r.run.message} — the guest never finished: an infinite loop, or a handler that never lets it make progress?`);
    else if (r.run.message && r.run.status === 'error') lines.push(`run: ${r.run.message}`);
  }
  r.checks.forEach((c, i) => {
    if (c.passed) lines.push(`ok   ${i + 1} ${c.name}`);
    else {
      lines.push(`FAIL ${i + 1} ${c.name}`);
      lines.push(`       expected: ${c.expected}`);
      lines.push(`       saw:      ${c.actual}`);
      lines.push(`       hint:     ${c.hint}`);
    }
  });
  lines.push(`${r.totals.passed} of ${r.totals.total} checks passed${r.totals.failed === 0 ? ': done!' : ''}`);
  return lines.join('\n') + '\n';
}

function xml(s: string): string {
  // XML 1.0 allows no C0 controls but tab, LF and CR: drop the rest.
  // eslint-disable-next-line no-control-regex
  return s.replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/g, '').replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');
}

/** JUnit XML: one testsuite for the exercise, one testcase per check, a failure element with message for each failed check. */
export function junitReport(r: TestReport, suiteName: string): string {
  const cases = r.checks.map((c) => {
    const open = `    <testcase classname="${xml(`vmscope.exercises.${suiteName}`)}" name="${xml(c.name)}">`;
    if (c.passed) return `${open}</testcase>`;
    const msg = `expected ${c.expected}; saw ${c.actual}`;
    return `${open}\n      <failure message="${xml(msg)}" type="check">${xml(`${msg}\nhint: ${c.hint}`)}</failure>\n    </testcase>`;
  });
  const sys = 'notRun' in r.run ? `not run: ${r.run.notRun}` : `status ${r.run.status}, exit code ${r.run.exitCode}${r.run.message ? `: ${r.run.message}` : ''}`;
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="vmscope test" tests="${r.totals.total}" failures="${r.totals.failed}">`,
    `  <testsuite name="${xml(suiteName)}" tests="${r.totals.total}" failures="${r.totals.failed}" errors="0">`,
    `    <properties><property name="title" value="${xml(r.exercise.title)}"/><property name="run" value="${xml(sys)}"/></properties>`,
    ...cases,
    '  </testsuite>',
    '</testsuites>',
    '',
  ].join('\n');
}
