// Malformed requests and bad launch configurations: `success: false` with a readable message, and the adapter keeps answering.
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { HELLO, ensureAdapter } from './build.js';
import { RawClient } from './raw-client.js';

let adapter = '';
let c: RawClient;
beforeAll(() => { adapter = ensureAdapter(); });
afterEach(() => c?.close());

async function fails(p: Promise<{ success: boolean; message?: string }>, pattern: RegExp): Promise<void> {
  const r = await p;
  expect(r.success).toBe(false);
  expect(r.message).toMatch(pattern);
}

describe('malformed requests', () => {
  it('refuses unknown commands, missing and ill-typed arguments, and keeps answering', async () => {
    c = RawClient.spawn(adapter);
    for (const junk of ['{not json', 'null', '[1,2]', '"text"', '{"type":"request"}']) c.writeFrame(junk);
    await fails(c.request('frobnicate'), /unknown request "frobnicate"/);
    // The frames before it were read: the ones that are not JSON objects are reported, and the adapter goes on serving
    // well past the 100 ms after which the base session used to end the process for such a frame.
    const notes = c.log.filter((m) => m.type === 'event' && m.event === 'output').map((m) => String((m.body as { output: string }).output));
    expect(notes.filter((n) => n.includes('ignored a message it could not handle'))).toHaveLength(1);
    expect(notes.filter((n) => n.includes('not a JSON object'))).toEqual(expect.arrayContaining([expect.stringContaining('(null)'), expect.stringContaining('([1,2])'), expect.stringContaining('("text")')]));
    await new Promise((r) => setTimeout(r, 500));
    await fails(c.sendRaw({ command: 42 }), /unknown request/);
    await fails(c.sendRaw({ command: 'launch', arguments: [1, 2] }), /arguments must be an object/);
    await fails(c.request('stackTrace', { threadId: 1 }), /no guest is running/);
    await fails(c.request('evaluate', {}), /'expression' is required/);
    expect((await c.request('initialize', { adapterID: 'vmscope' })).success).toBe(true);
    // Bad launch configurations: parseLaunchConfig's message names the field.
    await fails(c.request('launch', { program: HELLO, memoryMiB: 0 }), /launch failed: memoryMiB: must be between 1 and 65536, got 0/);
    await fails(c.request('launch', { program: HELLO, cpumode: 'long' }), /unknown field "cpumode" \(did you mean "cpuMode"\?\)/);
    await fails(c.request('launch', {}), /program: required/);
    await fails(c.request('launch', { program: '/nonexistent/guest.elf' }), /cannot open image \/nonexistent\/guest.elf/);
    await fails(c.request('launch', { program: HELLO, disassemblySyntax: 'att' }), /disassemblySyntax: must be one of nasm, intel, gas/);
    await fails(c.request('launch', { program: HELLO, stopOnEntry: 'yes' }), /'stopOnEntry' must be true or false/);
    // A good launch still works after the failures.
    const ready = c.event('initialized');
    expect((await c.request('launch', { program: HELLO, stopOnEntry: true })).success).toBe(true);
    await ready;
    await fails(c.request('setBreakpoints', {}), /'source' is required/);
    await fails(c.request('setBreakpoints', { source: { path: 'hello.asm' }, breakpoints: [{ line: 'twelve' }] }), /'line' is required and must be an integer/);
    await fails(c.request('setExceptionBreakpoints', { filters: 'vmexit' }), /'filters' must be an array/);
    const bad = await c.request('setExceptionBreakpoints', { filters: ['vmexit.NOPE'], filterOptions: [{ filterId: 'vmexit.CPUID', condition: 'leaf ==' }] });
    expect(bad.success).toBe(true);
    expect(bad.body.breakpoints.map((b: { verified: boolean }) => b.verified)).toEqual([false, false]);
    const stopped = c.event('stopped');
    expect((await c.request('configurationDone')).success).toBe(true);
    await stopped;
    await fails(c.request('stackTrace', { threadId: 'one' }), /unknown threadId "one"/);
    await fails(c.request('scopes', { frameId: 99 }), /no frame 99/);
    await fails(c.request('variables', { variablesReference: 12345 }), /variablesReference 12345 is not valid/);
    await fails(c.request('readMemory', { memoryReference: 'main', count: 4 }), /not a memory reference/);
    await fails(c.request('readMemory', { memoryReference: '0x100000', count: '4' }), /'count' is required and must be an integer/);
    await fails(c.request('writeMemory', { memoryReference: '0x100000', data: '!!!' }), /not valid base64/);
    await fails(c.request('writeMemory', { memoryReference: '0xc0000000', data: 'AA==' }), /not all guest RAM/);
    await fails(c.request('evaluate', { expression: '1 +', context: 'repl' }), /./);
    await fails(c.request('disassemble', { memoryReference: '0x100000', instructionCount: 1e9 }), /instructionCount must be between/);
    await fails(c.request('setVariable', { variablesReference: 1, name: 'rax', value: '1' }), /not valid|no variable/);
    await fails(c.request('goto', { threadId: 1, targetId: 7 }), /unknown targetId/);
    // Unreadable memory: readMemory reports it, disassembly shows ??.
    const un = await c.request('readMemory', { memoryReference: '0xc0000000', count: 16 });
    expect(un.body).toMatchObject({ unreadableBytes: 16, data: '' });
    const dis = await c.request('disassemble', { memoryReference: '0xc0000000', instructionCount: 2 });
    expect(dis.body.instructions.map((i: { instruction: string }) => i.instruction)).toEqual(['??', '??']);
    // Still alive.
    const th = await c.request('threads');
    expect(th.body.threads).toEqual([{ id: 1, name: 'vCPU 0' }]);
    expect((await c.request('disconnect')).success).toBe(true);
  });
});
