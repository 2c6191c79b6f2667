// Launch configuration validation: defaults, every field's accepted forms, and the message for each kind of mistake.
import { describe, expect, it } from 'vitest';
import { ConfigError, DEBUGGER_FIELDS, parseLaunchConfig, type LaunchConfig } from '../../emulator/config.js';

const P = { program: 'kernel.elf' };

function errorOf(raw: unknown, opts?: { requireProgram?: boolean }): ConfigError {
  try {
    parseLaunchConfig(raw, opts);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return e as ConfigError;
  }
  throw new Error(`accepted ${JSON.stringify(raw)}`);
}

describe('parseLaunchConfig: defaults and accepted values', () => {
  it('fills the documented defaults', () => {
    expect(parseLaunchConfig(P)).toEqual({
      program: 'kernel.elf', format: 'auto', memoryMiB: 64, args: '', maxInstructions: 10_000_000_000,
      devices: ['debugcon', 'debug-exit', 'uart'],
    } satisfies LaunchConfig);
  });

  const accepted: Array<[string, unknown, unknown]> = [
    ['loadAddress', 0x100000, 0x100000],
    ['loadAddress', '0x7c00', 0x7c00],
    ['loadAddress', '0X7C00', 0x7c00],
    ['loadAddress', '31744', 31744],
    ['loadAddress', 0, 0],
    ['entry', '0x1fffffffffffff', 2 ** 53 - 1],
    ['entry', '0x00000000000000000010', 16], // leading zeros do not count towards the limit
    ['memoryMiB', 1, 1],
    ['memoryMiB', '65536', 65536],
    ['memoryMiB', '0x40', 64],
    ['maxInstructions', '0x2540be400', 10_000_000_000],
    ['maxInstructions', 1, 1],
    ['format', 'multiboot', 'multiboot'],
    ['cpuMode', 'paged32', 'paged32'],
    ['args', 'console=ttyS0 quiet', 'console=ttyS0 quiet'],
    ['devices', [], []],
    ['devices', ['uart'], ['uart']],
  ];
  it.each(accepted)('%s = %j -> %j', (field, value, expected) => {
    const cfg = parseLaunchConfig({ ...P, [field]: value }) as unknown as Record<string, unknown>;
    expect(cfg[field]).toEqual(expected);
  });

  it('accepts and ignores the fields that belong to VS Code and the debug adapter', () => {
    const raw: Record<string, unknown> = { ...P, __sessionId: 'x', __configurationTarget: 5 };
    for (const f of DEBUGGER_FIELDS) raw[f] = 'anything';
    expect(parseLaunchConfig(raw)).toEqual(parseLaunchConfig(P));
    expect(DEBUGGER_FIELDS).toEqual(expect.arrayContaining(['type', 'request', 'name', 'stopOnEntry', 'trace', 'cwd', 'presentation']));
  });

  it('program may be left out when not required; undefined counts as absent', () => {
    expect(parseLaunchConfig({}, { requireProgram: false }).program).toBe('');
    expect(parseLaunchConfig({ ...P, entry: undefined }).entry).toBeUndefined();
  });
});

describe('parseLaunchConfig: messages name the field and the reason', () => {
  const rejected: Array<[unknown, string, string | RegExp]> = [
    [null, '', 'launch configuration: expected a JSON object, got null'],
    [[P], '', 'launch configuration: expected a JSON object, got an array'],
    [{}, 'program', 'program: required (the path of the guest image)'],
    [{ program: '' }, 'program', 'program: must not be empty'],
    [{ program: 42 }, 'program', 'program: expected a path string, got 42'],
    [{ program: 'a\0b' }, 'program', 'program: must not contain a NUL character'],
    [{ ...P, format: 'pe' }, 'format', 'format: must be one of auto, elf, multiboot, flat, got "pe"'],
    [{ ...P, format: 'ELF' }, 'format', 'format: must be one of auto, elf, multiboot, flat, got "ELF" (did you mean "elf"?)'],
    [{ ...P, cpuMode: 'long64' }, 'cpuMode', 'cpuMode: must be one of real, protected, paged32, long, got "long64"'],
    [{ ...P, cpuMode: null }, 'cpuMode', 'cpuMode: must be one of real, protected, paged32, long, got null'],
    [{ ...P, loadAddress: '0xZZ' }, 'loadAddress', 'loadAddress: expected a number or a 0x-hex string, got "0xZZ"'],
    [{ ...P, loadAddress: '0x' }, 'loadAddress', 'loadAddress: expected a number or a 0x-hex string, got "0x"'],
    [{ ...P, loadAddress: ' 12' }, 'loadAddress', 'loadAddress: expected a number or a 0x-hex string, got " 12"'],
    [{ ...P, loadAddress: '1e3' }, 'loadAddress', 'loadAddress: expected a number or a 0x-hex string, got "1e3"'],
    [{ ...P, loadAddress: '-16' }, 'loadAddress', 'loadAddress: expected a number or a 0x-hex string, got "-16"'],
    [{ ...P, loadAddress: -16 }, 'loadAddress', 'loadAddress: must not be negative, got -16'],
    [{ ...P, loadAddress: 1.5 }, 'loadAddress', 'loadAddress: expected a whole number, got 1.5'],
    [{ ...P, loadAddress: true }, 'loadAddress', 'loadAddress: expected a number or a 0x-hex string, got true'],
    [{ ...P, loadAddress: 0x4000000 }, 'loadAddress', 'loadAddress: 0x4000000 is beyond the end of guest memory (memoryMiB 64 = 0x4000000 bytes)'],
    [{ ...P, entry: '0x20000000000000' }, 'entry', 'entry: "0x20000000000000" is larger than 2^53 - 1'],
    [{ ...P, entry: '9007199254740992' }, 'entry', 'entry: "9007199254740992" is larger than 2^53 - 1'],
    [{ ...P, entry: 2 ** 53 }, 'entry', 'entry: 9007199254740992 is larger than 2^53 - 1'],
    [{ ...P, entry: '0xffffffff80100000' }, 'entry', 'entry: "0xffffffff80100000" is larger than 2^53 - 1'],
    [{ ...P, memoryMiB: 0 }, 'memoryMiB', 'memoryMiB: must be between 1 and 65536, got 0'],
    [{ ...P, memoryMiB: '65537' }, 'memoryMiB', 'memoryMiB: must be between 1 and 65536, got 65537'],
    [{ ...P, memoryMiB: NaN }, 'memoryMiB', 'memoryMiB: expected a whole number, got NaN'],
    [{ ...P, maxInstructions: 0 }, 'maxInstructions', 'maxInstructions: must be at least 1, got 0'],
    [{ ...P, args: ['a'] }, 'args', 'args: expected a string (the kernel command line), got an array'],
    [{ ...P, args: 'x\0y' }, 'args', 'args: must not contain a NUL character (the command line is a C string)'],
    [{ ...P, args: 'x'.repeat(65537) }, 'args', 'args: longer than 65536 characters (65537)'],
    [{ ...P, devices: 'uart' }, 'devices', 'devices: expected an array of device names, got "uart"'],
    [{ ...P, devices: ['uart', 7] }, 'devices', 'devices[1]: expected a device name or an object with "type", got 7'],
    [{ ...P, devices: ['vga'] }, 'devices', 'devices[0]: unknown device "vga"; known devices: debugcon, debug-exit, uart, virtio-console, virtio-blk, virtio-rng'],
    [{ ...P, devices: ['uart8250'] }, 'devices', /unknown device "uart8250"; known devices: debugcon, debug-exit, uart, virtio-console, virtio-blk, virtio-rng$/],
    [{ ...P, devices: [{ type: 'virtio-blk' }] }, 'devices', 'devices[0]: virtio-blk needs "image", the path of a disk image, got nothing'],
    [{ ...P, devices: ['virtio-blk'] }, 'devices', 'devices[0]: virtio-blk needs a disk image: write it as { "type": "virtio-blk", "image": "disk.img" }'],
    [{ ...P, devices: [{ type: 'virtio-blk', image: 'd.img', readOnly: 'yes' }] }, 'devices', 'devices[0].readOnly: expected true or false, got "yes"'],
    [{ ...P, devices: [{ type: 'virtio-blk', image: 'd.img', size: 1 }] }, 'devices', 'devices[0]: unknown field "size" for virtio-blk; allowed: type, image, readOnly, writeThrough'],
    [{ ...P, devices: [{ type: 'virtio-blk', image: 'd.img', readOnly: true, writeThrough: true }] }, 'devices', 'devices[0]: a read-only disk cannot be written through'],
    [{ ...P, vmcs: { GUEST_CS_AR: 1 } }, 'vmcs', 'vmcs: unknown VMCS field "GUEST_CS_AR" (did you mean "GUEST_CS_AR_BYTES"?)'],
    [{ ...P, vmcs: [1] }, 'vmcs', 'vmcs: expected an object of VMCS field names to values, got an array'],
    [{ ...P, devices: ['debug_exit'] }, 'devices', 'devices[0]: unknown device "debug_exit" (did you mean "debug-exit"?); known devices: debugcon, debug-exit, uart, virtio-console, virtio-blk, virtio-rng'],
    [{ ...P, devices: ['uart', 'uart'] }, 'devices', 'devices[1]: "uart" is listed twice'],
    [{ ...P, cpumode: 'long' }, 'cpumode', 'unknown field "cpumode" (did you mean "cpuMode"?)'],
    [{ ...P, memory: 64 }, 'memory', 'unknown field "memory" (did you mean "memoryMiB"?)'],
    [{ ...P, ram: 64 }, 'ram', 'unknown field "ram"'],
    [{ ...P, loadAdress: 1 }, 'loadAdress', 'unknown field "loadAdress" (did you mean "loadAddress"?)'],
    [{ ...P, stopOnEntyr: true }, 'stopOnEntyr', 'unknown field "stopOnEntyr" (did you mean "stopOnEntry"?)'],
    [{ ...P, ['k'.repeat(100)]: 1 }, 'k'.repeat(100), `unknown field "${'k'.repeat(40)}…"`],
  ];
  it.each(rejected)('%j -> [%s] %s', (raw, field, message) => {
    const e = errorOf(raw);
    expect(e.field).toBe(field);
    if (typeof message === 'string') expect(e.message).toBe(message);
    else expect(e.message).toMatch(message);
  });

  it('checks loadAddress against the configured memory size', () => {
    expect(parseLaunchConfig({ ...P, memoryMiB: 128, loadAddress: 0x4000000 }).loadAddress).toBe(0x4000000);
    expect(errorOf({ ...P, memoryMiB: 1, loadAddress: '0x100000' }).field).toBe('loadAddress');
  });

  it('never throws anything but ConfigError for odd JSON values', () => {
    const odd: unknown[] = [undefined, 1, 'x', true, Object.create(null), { program: {} }, { program: 'a', devices: [null] },
      { program: 'a', format: {} }, { program: 'a', memoryMiB: [] }, { program: 'a', maxInstructions: '0x' + 'f'.repeat(1000) }];
    for (const raw of odd) expect(() => parseLaunchConfig(raw)).toThrow(ConfigError);
  });
});
