// Revealing a VM exit from the VM exits view through activate.ts with the stand-in vscode and a real inline adapter: an exit without a source line opens a vmscope-disasm: document at its instruction (checked against objdump, nm and addr2line); one with a source line opens the file.
import { execFileSync } from 'node:child_process';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { ViewNode } from '../../extension/src/model/node.js';
import { InlineClient } from './inline-client.js';

const fake = await vi.hoisted(async () => (await import('./fake-vscode.js')).fakeVscode());
vi.mock('vscode', () => fake.api);
const { activateCommon } = await import('../../extension/src/activate.js');
const { DISASM_SCHEME, disassemblyAround } = await import('../../extension/src/disasm-doc.js');

const ROOT = resolve(__dirname, '..', '..');
const SAMPLE = join(ROOT, 'samples', '01-trap-and-emulate');
const ELF = join(SAMPLE, '01-trap-and-emulate.elf');
const rec = fake.rec;
let c: InlineClient;
let session: { id: string; type: string; name: string; customRequest(cmd: string, a?: unknown): Promise<any> };

beforeAll(async () => {
  activateCommon({ subscriptions: [], extensionUri: fake.api.Uri.file(ROOT) } as never, { adapterFactory: {} as never });
  c = new InlineClient();
  const ev = await c.start({ program: ELF, cwd: SAMPLE }, [{ filterId: 'vmexit.CPUID' }]);
  expect(ev.event).toBe('stopped');
  session = { id: 'r1', type: 'vmscope', name: '01', customRequest: (cmd: string, a?: unknown) => c.customRequest(cmd, a) };
  for (const f of rec.listeners.get('start') ?? []) f(session);
  rec.trackers.get('vmscope')!.createDebugAdapterTracker(session).onDidSendMessage({ type: 'event', event: 'stopped', body: { reason: 'exception' } });
}, 60_000);
afterAll(async () => { await c.customRequest('disconnect', {}).catch(() => undefined); });

/** objdump's instructions in [from, to): address → bytes and mnemonic (the reference decoder for the document's rows). */
function objdump(from: number, to: number): Map<number, { bytes: string; mnemonic: string }> {
  const out = execFileSync('objdump', ['-d', '-M', 'intel', '--insn-width=16', `--start-address=0x${from.toString(16)}`, `--stop-address=0x${to.toString(16)}`, ELF], { encoding: 'utf8' });
  const m = new Map<number, { bytes: string; mnemonic: string }>();
  for (const x of out.matchAll(/^\s*([0-9a-f]+):\t([0-9a-f ]+?)\s*\t(\S+)/gm)) m.set(parseInt(x[1], 16), { bytes: x[2].trim(), mnemonic: x[3] });
  return m;
}

/** The document's instruction rows: address, bytes, text, source annotation, whether marked "=>". */
function rows(text: string): Array<{ line: number; address: number; bytes: string; text: string; src: string | null; marked: boolean }> {
  const out: Array<{ line: number; address: number; bytes: string; text: string; src: string | null; marked: boolean }> = [];
  text.split('\n').forEach((l, line) => {
    const m = /^(=> |   )(0x[0-9a-f]+)\s+((?:[0-9a-f]{2} )*[0-9a-f]{2})?\s+(.*?)(?:  ; (\S+:\d+))?$/.exec(l);
    if (m !== null) out.push({ line, address: parseInt(m[2], 16), bytes: m[3] ?? '', text: m[4], src: m[5] ?? null, marked: m[1] === '=> ' });
  });
  return out;
}

/** addr2line's file:line (basename) per address, null where it has none. */
function addr2line(addresses: number[]): Array<string | null> {
  const out = execFileSync('addr2line', ['-e', ELF, ...addresses.map((a) => `0x${a.toString(16)}`)], { encoding: 'utf8' }).trim().split('\n');
  return out.map((l) => { const m = /([^/\s]+):(\d+)/.exec(l); return m === null || m[1] === '??' || m[2] === '0' ? null : `${m[1]}:${m[2]}`; });
}

async function exitRows(): Promise<ViewNode[]> {
  const roots: ViewNode[] = await rec.treeViews.get('vmscope.exits')!.getChildren();
  return roots.find((n) => n.id === 'exits/recent')!.children!;
}

/** Select a row as VS Code does: run the command its TreeItem carries. */
async function select(n: ViewNode): Promise<void> {
  const item = rec.treeViews.get('vmscope.exits')!.getTreeItem(n);
  expect(item.command?.command).toBe('vmscope.revealExit');
  await rec.commands.get(item.command.command)!(...item.command.arguments);
}

describe('selecting an exit in the VM exits view', () => {
  it('without a source line: opens "disasm @ RIP" (vmscope-disasm:), the exit\'s instruction selected and centred, rows as objdump decodes them', async () => {
    const vmcall = (await exitRows()).find((n) => n.label === '#1 VMCALL')!;
    // The sample's print.inc has no DWARF lines: addr2line knows no source for the VMCALL either.
    expect(addr2line([Number(vmcall.rip)])).toEqual([null]);
    await select(vmcall);
    const shown = rec.shown.at(-1)!;
    expect(shown.uri).toBe(`${DISASM_SCHEME}:///disasm @ ${vmcall.rip}`);
    expect(shown.uri.split('/').pop()).toBe(`disasm @ ${vmcall.rip}`); // the editor's title
    expect(shown.languageId).toBe('plaintext'); // VS Code 1.100 ships no x86 assembly language
    const lines = shown.text.split('\n');
    const sel = shown.selection!;
    expect([sel.a, sel.c]).toEqual([sel.a, sel.a]);
    expect(sel.d).toBe(lines[sel.a].length);
    expect(shown.revealed!.type).toBe(fake.api.TextEditorRevealType.InCenter);
    expect(shown.revealed!.range).toBe(shown.selection);
    const rs = rows(shown.text);
    const at = rs.find((r) => r.line === sel.a)!;
    expect(at.marked).toBe(true);
    expect(at.address).toBe(Number(vmcall.rip));
    expect(rs.filter((r) => r.marked)).toHaveLength(1);
    // Instructions before and after it (instructionOffset < 0), each as objdump decodes the ELF.
    expect(rs.filter((r) => r.address < at.address).length).toBeGreaterThan(5);
    expect(rs.filter((r) => r.address > at.address).length).toBeGreaterThan(5);
    // The VMCALL is 0x16 bytes into flush(): the rows before it go on backwards into the code before that
    // symbol, decoded, with no "??" placeholders, each row starting where the previous one ended.
    expect(rs.filter((r) => r.text === '??')).toEqual([]);
    for (let k = 1; k < rs.length; k++) expect(rs[k].address, rs[k].text).toBe(rs[k - 1].address + rs[k - 1].bytes.split(' ').length);
    const ref = objdump(at.address - 0x40, at.address + 0x20);
    const decoded = rs.filter((r) => r.bytes !== '' && ref.has(r.address));
    expect(decoded.length).toBeGreaterThan(8);
    for (const r of decoded) {
      expect(r.bytes, r.text).toBe(ref.get(r.address)!.bytes);
      expect(r.text.split(/\s/)[0]).toBe(ref.get(r.address)!.mnemonic);
    }
    expect(at.text).toBe('vmcall');
    // The symbol label above the exit's instruction is the ELF symbol containing it (nm).
    const syms = execFileSync('nm', ['-n', ELF], { encoding: 'utf8' }).split('\n').map((l) => l.split(' ')).filter((x) => x.length === 3 && /^[tT]$/.test(x[1]));
    const owner = syms.filter((x) => parseInt(x[0], 16) <= at.address).at(-1)![2];
    const label = lines.slice(0, sel.a).reverse().find((l) => /^\S+:$/.test(l));
    expect(label).toBe(`${owner}:`);
  });

  it('with a source line: opens the source file at the line addr2line gives', async () => {
    // Step to the next exit (the IO_INSTRUCTION of `out 0xe9`): the CPUID exit is then in the log.
    const stop = c.next('stopped');
    await c.customRequest('vmscope/stepToExit', { threadId: 1 });
    await stop;
    rec.trackers.get('vmscope')!.createDebugAdapterTracker(session).onDidSendMessage({ type: 'event', event: 'stopped', body: { reason: 'exception' } });
    await vi.waitFor(async () => expect((await exitRows()).some((n) => n.label === '#6 CPUID')).toBe(true));
    const cpuid = (await exitRows()).find((n) => n.label === '#6 CPUID')!;
    const [ref] = addr2line([Number(cpuid.rip)]);
    expect(ref).not.toBeNull();
    const before = rec.shown.length;
    await select(cpuid);
    expect(rec.shown.length).toBe(before + 1);
    const shown = rec.shown.at(-1)!;
    expect(shown.uri).toBe(`file://${join(SAMPLE, ref!.split(':')[0])}`);
    expect(shown.selection!.a + 1).toBe(Number(ref!.split(':')[1]));
    expect(shown.text.split('\n')[shown.selection!.a]).toMatch(/\bcpuid\b/i);
  });

  it('the document provider answers for any address at a stop, with each row\'s file:line as addr2line gives it', async () => {
    const cpuid = (await exitRows()).find((n) => n.label === '#6 CPUID')!;
    const provider = rec.contentProviders.get(DISASM_SCHEME)!;
    const text = await provider.provideTextDocumentContent(fake.api.Uri.from({ scheme: DISASM_SCHEME, path: `/disasm @ ${cpuid.rip}` }));
    const rs = rows(text).filter((r) => r.bytes !== '');
    expect(rs.find((r) => r.marked)!.text).toBe('cpuid');
    const refs = addr2line(rs.map((r) => r.address));
    expect(refs.filter((x) => x !== null).length).toBeGreaterThan(5);
    expect(rs.map((r) => r.src)).toEqual(refs);
    expect(await provider.provideTextDocumentContent(fake.api.Uri.from({ scheme: DISASM_SCHEME, path: '/elsewhere' }))).toMatch(/not an address/);
    // Hostile or broken answers: one line per instruction, control characters flattened, nothing thrown.
    const bad = await disassemblyAround({ customRequest: async () => ({ instructions: [{ address: '0x10', instruction: 'evil\nline\u2028x', instructionBytes: 'zz' }, null, 7] }) }, '0x10');
    expect(bad.text.split('\n').filter((l) => l.includes('evil'))).toEqual(['=> 0x10                zz                                evil line x']);
    await expect(disassemblyAround(c, 'rip; rm -rf')).rejects.toThrow(/not an address/);
  });
});
