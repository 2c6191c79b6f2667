// Time travel in the extension (issue 9) through activate.ts with the stand-in vscode: "Go to This Exit" on an exit row sends vmscope/gotoExit with the exit's number, the status bar shows vmscope/history, an adapter without the requests is reported plainly; sample 01 runs in a real inline adapter, the time-travel requests are answered by a stub in front of it.
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { ViewNode } from '../../extension/src/model/node.js';
import { InlineClient } from './inline-client.js';

const fake = await vi.hoisted(async () => (await import('./fake-vscode.js')).fakeVscode());
vi.mock('vscode', () => fake.api);
const { activateCommon } = await import('../../extension/src/activate.js');
const { fetchHistory, historyText, isUnsupported } = await import('../../extension/src/time-travel.js');

const ROOT = resolve(__dirname, '..', '..');
const SAMPLE = join(ROOT, 'samples', '01-trap-and-emulate');
const manifest = JSON.parse(readFileSync(join(ROOT, 'extension', 'package.json'), 'utf8'));
const rec = fake.rec;
const status = fake.api.window.createStatusBarItem();
const MiB = 1024 * 1024;

let c: InlineClient;
/** How the stub answers the time-travel requests: a body, or an Error to reject with; 'real' passes them to the real adapter. */
let answer: { goto: unknown; history: unknown } = { goto: 'real', history: 'real' };
const asked: Array<[string, unknown]> = [];
const session = {
  id: 't1', type: 'vmscope', name: '01',
  async customRequest(cmd: string, a?: unknown): Promise<any> {
    const which = cmd === 'vmscope/gotoExit' ? 'goto' : cmd === 'vmscope/history' ? 'history' : null;
    if (which === null) return c.customRequest(cmd, a);
    asked.push([cmd, a]);
    const x = answer[which];
    if (x === 'pass') return c.customRequest(cmd, a);
    // 'real': the adapter's own answer to a request it has no handler for (a name no adapter version uses).
    if (x === 'real') return c.customRequest(`${cmd}.noSuchRequest`, a);
    if (x instanceof Error) throw x;
    return x;
  },
};
const tracker = () => rec.trackers.get('vmscope')!.createDebugAdapterTracker(session);
const stopped = async () => {
  tracker().onDidSendMessage({ type: 'event', event: 'stopped', body: { reason: 'exception' } });
  await new Promise((r) => setTimeout(r, 30));
};
async function exitRows(): Promise<ViewNode[]> {
  const roots: ViewNode[] = await rec.treeViews.get('vmscope.exits')!.getChildren();
  return roots.find((n) => n.id === 'exits/recent')!.children!;
}

beforeAll(async () => {
  activateCommon({ subscriptions: [], extensionUri: fake.api.Uri.file(ROOT) } as never, { adapterFactory: {} as never });
  c = new InlineClient();
  const ev = await c.start({ program: join(SAMPLE, '01-trap-and-emulate.elf'), cwd: SAMPLE }, [{ filterId: 'vmexit.CPUID' }]);
  expect(ev.event).toBe('stopped');
  for (const f of rec.listeners.get('start') ?? []) f(session);
}, 60_000);
afterAll(async () => { await c.customRequest('disconnect', {}).catch(() => undefined); });

describe('Go to This Exit', () => {
  it('is on the exit rows\' context menu and sends vmscope/gotoExit with the exit\'s number', async () => {
    await stopped();
    const menu = manifest.contributes.menus['view/item/context'].find((m: { command: string }) => m.command === 'vmscope.gotoExit');
    expect(menu.when).toBe('view == vmscope.exits && viewItem =~ /exit/');
    expect(manifest.contributes.commands.find((m: { command: string }) => m.command === 'vmscope.gotoExit').title).toBe('Go to This Exit');
    const rows = await exitRows();
    const third = rows.find((n) => n.label === '#3 VMCALL')!;
    // The row's contextValue is what the menu's `when` matches (VS Code: viewItem =~ /exit/).
    expect(/exit/.test(rec.treeViews.get('vmscope.exits')!.getTreeItem(third).contextValue)).toBe(true);
    // The pending exit (the stop sits at it, not logged yet) has no exit number to go to.
    const pending = rows.find((n) => n.id.startsWith('exits/pending/'))!;
    expect(/exit/.test(rec.treeViews.get('vmscope.exits')!.getTreeItem(pending).contextValue ?? '')).toBe(false);
    // The exit's number in vmscope/exits entries is the index.
    const logged = (await c.customRequest('vmscope/exits', { start: 3, count: 1 })).entries[0];
    answer = { goto: { icount: logged.icount, rip: Number(logged.rip) }, history: 'real' };
    asked.length = 0;
    await rec.commands.get('vmscope.gotoExit')!(third);
    expect(asked).toEqual([['vmscope/gotoExit', { index: logged.n }]]);
    expect(logged.n).toBe(3);
    expect(rec.statusMessages.at(-1)).toBe(`vmscope: at VM exit #3 (instruction ${logged.icount}, RIP ${logged.rip})`);
    expect(rec.messages.filter((m) => m.startsWith('error'))).toEqual([]);
    // From the timeline (the webview posts the number) or the palette (an input box): the same request.
    await rec.commands.get('vmscope.gotoExit')!(5);
    rec.input = '#2';
    await rec.commands.get('vmscope.gotoExit')!();
    rec.input = undefined;
    await rec.commands.get('vmscope.gotoExit')!();
    expect(asked.slice(1)).toEqual([['vmscope/gotoExit', { index: 5 }], ['vmscope/gotoExit', { index: 2 }]]);
  });

  it('says clearly when the adapter does not support going back, and passes on the adapter\'s own error otherwise', async () => {
    answer = { goto: 'real', history: 'real' };
    const third = (await exitRows()).find((n) => n.label === '#3 VMCALL')!;
    // The real adapter's answer to a request it does not know.
    const raw = await c.customRequest('vmscope/gotoExit.noSuchRequest', { index: 3 }).then(() => null, (e: Error) => e);
    expect(raw).not.toBeNull();
    expect(isUnsupported(raw)).toBe(true);
    rec.messages.length = 0;
    await rec.commands.get('vmscope.gotoExit')!(third);
    expect(rec.messages).toHaveLength(1);
    expect(rec.messages[0]).toMatch(/^error: vmscope: this debug adapter cannot go back to a recorded VM exit \(vmscope\/gotoExit: .*unknown request.*\)\. Reverse debugging needs/);
    expect(isUnsupported(new Error('unrecognized request'))).toBe(true); // @vscode/debugadapter's default
    answer = { goto: new Error('vmscope/gotoExit: exit #3 is older than the recorded history (oldest: #9)'), history: 'real' };
    await rec.commands.get('vmscope.gotoExit')!(third);
    expect(rec.messages[1]).toBe('error: vmscope: cannot go to VM exit #3: vmscope/gotoExit: exit #3 is older than the recorded history (oldest: #9)');
    // Nothing sent for a number that is not an exit's.
    asked.length = 0;
    await rec.commands.get('vmscope.gotoExit')!(0);
    expect(asked).toEqual([]);
    expect(rec.messages[2]).toMatch(/not an exit number: 0/);
  });
});

describe('with the adapter\'s own time travel', () => {
  it('goes back to exit #3: the stop shows that exit (VMCS exit reason, GUEST_RIP) and the status bar the recorded history', async () => {
    answer = { goto: 'pass', history: 'pass' };
    const third = (await exitRows()).find((n) => n.label === '#3 VMCALL')!;
    const logged = (await c.customRequest('vmscope/exits', { start: 3, count: 1 })).entries[0];
    const stop = c.next('stopped');
    rec.messages.length = 0;
    await rec.commands.get('vmscope.gotoExit')!(third);
    expect(rec.messages).toEqual([]);
    const ev = await stop;
    expect(ev.body.reason).toBe('goto');
    tracker().onDidSendMessage(ev);
    await new Promise((r) => setTimeout(r, 30));
    expect(rec.statusMessages.at(-1)).toMatch(new RegExp(`^vmscope: at VM exit #3 \\(instruction ${logged.icount}, RIP ${logged.rip}\\)$`));
    // The VMCS of that moment: basic exit reason 18 = VMCALL (SDM vol. 3C appendix C), GUEST_RIP at the exit's instruction.
    const vmcs: ViewNode[] = await rec.treeViews.get('vmscope.vmcs')!.getChildren();
    const fields = vmcs.filter((n) => n.id.startsWith('vmcs/g/')).flatMap((g) => g.children ?? []);
    expect(Number(BigInt(fields.find((f) => f.field === 'VM_EXIT_REASON')!.value!) & 0xffffn)).toBe(18);
    expect(BigInt(fields.find((f) => f.field === 'GUEST_RIP')!.value!)).toBe(BigInt(logged.rip));
    // The exits view: exit #3 pending at the stop, nothing after it.
    const rows = await exitRows();
    expect(rows[0].label).toBe('#3 VMCALL');
    expect(rows.some((n) => n.label.startsWith('#6'))).toBe(false);
    const h = await c.customRequest('vmscope/history', {});
    expect(h.currentIcount).toBe(logged.icount);
    await vi.waitFor(() => expect(status.text).toContain(historyText(h)));
  });
});

describe('history in the status bar', () => {
  it('shows the span and memory of the recorded history at each stop, and nothing of it when the adapter has none', async () => {
    answer = { goto: 'real', history: { oldestIcount: 1_000, currentIcount: 900_000, newestIcount: 1_251_000, bytes: 40 * MiB + MiB / 2, budgetBytes: 512 * MiB, snapshots: 17 } };
    asked.length = 0;
    await stopped();
    await vi.waitFor(() => expect(status.text).toContain('history'));
    expect(status.text).toMatch(/^\$\(debug\) vmscope: \d+ exits · \S+ instr( · \S+ MIPS)? · history: 1\.3 M instr, 40\.5 MiB \/ 512 MiB$/);
    // Asked once per stop, however often the item is updated.
    await rec.commands.get('vmscope.refreshViews')!();
    await new Promise((r) => setTimeout(r, 30));
    expect(asked.filter(([cmd]) => cmd === 'vmscope/history').length).toBe(2); // the stop, and the refresh (a new stop's worth of answers)
    answer = { goto: 'real', history: 'real' };
    await stopped();
    await vi.waitFor(() => expect(status.text).not.toContain('history'));
    expect(status.text).toMatch(/^\$\(debug\) vmscope: \d+ exits · \S+ instr( · \S+ MIPS)?$/);
  });

  it('takes only well-formed answers', async () => {
    const ok = { oldestIcount: 0, currentIcount: 5, newestIcount: 10, bytes: 0, budgetBytes: 0, snapshots: 1 };
    const ask = (body: unknown) => fetchHistory({ customRequest: async () => body });
    expect(await ask(ok)).toEqual(ok);
    expect(historyText(ok)).toBe('history: 10 instr, 0 MiB / 0 MiB');
    expect(await ask({ ...ok, bytes: '<b>' })).toBeNull();
    expect(await ask({ ...ok, oldestIcount: 11 })).toBeNull();
    expect(await ask(null)).toBeNull();
    expect(await fetchHistory({ customRequest: async () => { throw new Error('unknown request'); } })).toBeNull();
  });
});

describe('the launch configuration', () => {
  it('has historyMiB: a number, default 512, 0 turns recording off', () => {
    const p = manifest.contributes.debuggers[0].configurationAttributes.launch.properties.historyMiB;
    expect(p.type).toBe('number');
    expect(p.default).toBe(512);
    expect(p.minimum).toBe(0);
    expect(p.description).toMatch(/reverse debugging.*MiB.*0 turns recording off/i);
  });
});
