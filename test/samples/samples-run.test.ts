// Every sample runs under its launch.json (first vmscope configuration) to the console output in its expected-output.txt.
import { describe, expect, it } from 'vitest';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { spawnSync } from 'node:child_process';

const ROOT = resolve(__dirname, '..', '..');
const SAMPLES = join(ROOT, 'samples');
const CLI = join(ROOT, 'dist', 'cli.js');

/** Samples with a launch.json and an expected output (samples/hello predates them and is checked elsewhere). */
const samples = readdirSync(SAMPLES).filter((d) => existsSync(join(SAMPLES, d, '.vscode', 'launch.json')) && existsSync(join(SAMPLES, d, 'expected-output.txt'))).sort();

describe('samples run to their expected output', () => {
  it('there are samples to run', () => {
    expect(samples.length).toBeGreaterThan(0);
  });
  for (const s of samples) {
    it(s, () => {
      const launch = join(SAMPLES, s, '.vscode', 'launch.json');
      const want = readFileSync(join(SAMPLES, s, 'expected-output.txt'), 'utf8');
      const p = spawnSync(process.execPath, [CLI, 'run', '--config', launch, '--max-instructions', '200000000'], { encoding: 'utf8', cwd: dirname(launch), timeout: 120_000, input: '' });
      expect(p.stdout).toBe(want);
      expect(p.stderr).not.toMatch(/unimplemented instruction/);
    });
  }
});
