// CLI argument parsing for `vmscope run`: options in both spellings, help/version, errors, merging with --config.
import { describe, expect, it } from 'vitest';
import { buildLaunchConfig, HELP_TEXT, OPTIONS, parseArgs, UsageError, type RunCommand } from '../../cli/args.js';
import { ConfigError } from '../../emulator/config.js';

function run(...argv: string[]): RunCommand {
  const c = parseArgs(argv);
  if (c.command !== 'run') throw new Error(`not a run command: ${c.command}`);
  return c;
}

function usage(...argv: string[]): string {
  try {
    parseArgs(argv);
  } catch (e) {
    expect(e).toBeInstanceOf(UsageError);
    const m = (e as Error).message;
    expect(m).not.toContain('\n');
    return m;
  }
  throw new Error(`accepted ${argv.join(' ')}`);
}

describe('parseArgs', () => {
  it('parses every option, in --opt value and --opt=value forms, into launch-configuration overrides', () => {
    const spaced = run('run', 'k.elf', '--format', 'elf', '--load-address', '0x100000', '--entry', '4096', '--mode', 'long',
      '--memory', '128', '--append', 'console=ttyS0 -v', '--max-instructions', '0x10', '--json', '--stats', '--trace-exits', '--platform');
    const equals = run('run', '--format=elf', '--load-address=0x100000', '--entry=4096', '--mode=long', '--memory=128',
      '--append=console=ttyS0 -v', '--max-instructions=0x10', '--json', '--stats', '--trace-exits', '--platform', 'k.elf');
    const expected: RunCommand = {
      command: 'run', image: 'k.elf', json: true, stats: true, traceExits: true, platform: true,
      overrides: { format: 'elf', loadAddress: 0x100000, entry: 4096, cpuMode: 'long', memoryMiB: 128, args: 'console=ttyS0 -v', maxInstructions: 16 },
    };
    expect(spaced).toEqual(expected);
    expect(equals).toEqual(expected);
  });

  it('takes the next argument as the value even if it starts with a dash, and --append= may be empty', () => {
    expect(run('run', 'k', '--append', '--weird').overrides.args).toBe('--weird');
    expect(run('run', 'k', '--append=').overrides.args).toBe('');
  });

  it('defaults the flags to false and lets the last repeated option win', () => {
    const c = run('run', 'k', '--memory', '8', '--memory=16');
    expect(c).toEqual({ command: 'run', image: 'k', overrides: { memoryMiB: 16 }, json: false, stats: false, traceExits: false, platform: false });
  });

  it('accepts --config without an image, and -- before a dash-leading image name', () => {
    const c = run('run', '--config', 'vm.json');
    expect(c.configPath).toBe('vm.json');
    expect(c.image).toBeUndefined();
    expect(run('run', '--', '-kernel.bin').image).toBe('-kernel.bin');
  });

  it('answers help and version wherever the flag is', () => {
    expect(parseArgs([])).toEqual({ command: 'help' });
    expect(parseArgs(['--help'])).toEqual({ command: 'help' });
    expect(parseArgs(['run', 'k', '-h'])).toEqual({ command: 'help' });
    expect(parseArgs(['run', '--bogus', '--help'])).toEqual({ command: 'help' });
    expect(parseArgs(['help'])).toEqual({ command: 'help' });
    expect(parseArgs(['--version'])).toEqual({ command: 'version' });
    expect(parseArgs(['version'])).toEqual({ command: 'version' });
    expect(parseArgs(['run', '--', '--help']).command).toBe('run'); // after --, it is an image name
  });

  const errors: Array<[string[], string]> = [
    [['start', 'k'], 'unknown command "start" (commands: run, test, help, version)'],
    [['--memory', '8'], "expected a command before \"--memory\"; try 'vmscope run IMAGE' or 'vmscope --help'"],
    [['run'], "run: missing IMAGE (or --config FILE with a \"program\" field); try 'vmscope --help'"],
    [['run', 'a', 'b'], 'unexpected argument "b" (IMAGE is already "a")'],
    [['run', 'k', '--memroy', '8'], 'unknown option "--memroy" (did you mean --memory?)'],
    [['run', 'k', '--load_address=1'], 'unknown option "--load_address" (did you mean --load-address?)'],
    [['run', 'k', '-m', '8'], 'unknown option "-m"'],
    [['run', 'k', '--memory'], '--memory needs a value'],
    [['run', 'k', '--json=yes'], '--json takes no value'],
    [['run', 'k', '--memory', '0'], '--memory: must be between 1 and 65536, got 0'],
    [['run', 'k', '--memory', 'lots'], '--memory: expected a number or a 0x-hex string, got "lots"'],
    [['run', 'k', '--load-address', '0xZZ'], '--load-address: expected a number or a 0x-hex string, got "0xZZ"'],
    [['run', 'k', '--format', 'pe'], '--format: must be one of auto, elf, multiboot, flat, got "pe"'],
    [['run', 'k', '--mode', 'Long'], '--mode: must be one of real, protected, paged32, long, got "Long" (did you mean "long"?)'],
    [['run', 'k', '--max-instructions', '0'], '--max-instructions: must be at least 1, got 0'],
    [['run', 'k', '--config='], '--config needs a file name'],
    [['run', ''], 'IMAGE must not be empty'],
  ];
  it.each(errors)('%j -> %s', (argv, message) => {
    expect(usage(...argv)).toBe(message);
  });
});

describe('buildLaunchConfig', () => {
  it('command-line options and IMAGE override the --config file', () => {
    const file = { type: 'vmscope', request: 'launch', name: 'x', program: 'from-file.elf', memoryMiB: 32, args: 'a', format: 'elf' };
    const cfg = buildLaunchConfig(run('run', 'cli.elf', '--config', 'f.json', '--memory', '256'), file);
    expect(cfg).toMatchObject({ program: 'cli.elf', memoryMiB: 256, args: 'a', format: 'elf' });
    expect(buildLaunchConfig(run('run', '--config', 'f.json'), file).program).toBe('from-file.elf');
  });

  it('validates the merged configuration', () => {
    // --memory 1 makes the file's loadAddress fall outside memory.
    const cmd = run('run', 'k', '--config', 'f.json', '--memory', '1');
    expect(() => buildLaunchConfig(cmd, { loadAddress: '0x200000' })).toThrow(ConfigError);
    expect(() => buildLaunchConfig(cmd, { memory: 1 })).toThrow(/did you mean "memoryMiB"/);
    expect(() => buildLaunchConfig(cmd, [1])).toThrow(/f.json: expected a JSON object/);
  });

  it('asks for an image when neither the command line nor the file names one', () => {
    expect(() => buildLaunchConfig(run('run', '--config', 'f.json'), { memoryMiB: 8 })).toThrow(UsageError);
  });

  it('without --config, uses defaults', () => {
    expect(buildLaunchConfig(run('run', 'k.bin'))).toEqual({
      program: 'k.bin', format: 'auto', memoryMiB: 64, args: '', maxInstructions: 10_000_000_000, devices: ['debugcon', 'debug-exit', 'uart'],
    });
  });
});

describe('HELP_TEXT', () => {
  it('documents every option and shows examples', () => {
    for (const o of Object.keys(OPTIONS)) expect(HELP_TEXT, o).toContain(o);
    expect(HELP_TEXT).toContain('Examples:');
    expect(HELP_TEXT).toMatch(/vmscope run \S+ /);
    for (const line of HELP_TEXT.split('\n')) expect(line.length, line).toBeLessThanOrEqual(80);
  });
});
