// The views' tree builders on real answers: sample 11-virtio run through an inline adapter session (the extension's default), checked against the SDM, the hypervisor's memory layout, the sample's source and DAP's own answers.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { VMCS_FIELDS, VMCS_GROUPS } from '../../emulator/vmx/fields.js';
import { HOST_LAYOUT } from '../../emulator/vmm/hypervisor.js';
import type { ExitsResponseBody, VirtioResponseBody, VmcsResponseBody } from '../../debug-adapter/protocol.js';
import { buildExitsTree } from '../../extension/src/model/exits-model.js';
import { buildEptTree, EptExplorer } from '../../extension/src/model/ept-model.js';
import { buildVirtioTree, PREVIEW_BYTES } from '../../extension/src/model/virtio-model.js';
import type { ViewNode } from '../../extension/src/model/node.js';
import { sourceOf, StopData, writeVmcsField } from '../../extension/src/session-data.js';
import { InlineClient } from './inline-client.js';

const ROOT = resolve(__dirname, '..', '..');
const SAMPLE = join(ROOT, 'samples', '11-virtio');
const ELF = join(SAMPLE, '11-virtio.elf');
const CONSOLE_NOTIFY = 0xd0000000 + 0x50; // virtio-console window + QueueNotify (virtio 1.2 §4.2.2)

/** Every node of a tree, lazy children loaded (bounded). */
async function flatten(nodes: ViewNode[], depth = 6): Promise<ViewNode[]> {
  const out: ViewNode[] = [];
  for (const n of nodes) {
    out.push(n);
    if (depth === 0) continue;
    const kids = n.children ?? (n.load !== undefined ? await n.load() : []);
    out.push(...(await flatten(kids, depth - 1)));
  }
  return out;
}

let c: InlineClient;
let firstStopVmcs: VmcsResponseBody;

beforeAll(async () => {
  c = new InlineClient();
  // The sample's second configuration (virtio-console only); stop when the driver notifies the transmit queue.
  const ev = await c.start({ program: ELF, cwd: SAMPLE, devices: ['debugcon', 'debug-exit', 'uart', 'virtio-console'] },
    [{ filterId: 'vmexit.EPT_VIOLATION', condition: `gpa == ${CONSOLE_NOTIFY}` }]);
  expect(ev.event).toBe('stopped');
});
afterAll(async () => { await c.customRequest('disconnect', {}).catch(() => undefined); });

describe('Virtio tree', () => {
  it('shows the console device, its transmit queue with the in-flight chain, and the buffer holding the sample\'s line', async () => {
    // Back to a transmit notification: the chain is available, not yet taken by the device.
    const data = new StopData(c);
    data.stopped();
    const r = await data.get('virtio');
    if (!r.ok) throw new Error(r.message);
    const body = r.body as VirtioResponseBody;
    const roots = buildVirtioTree(body, c);
    expect(roots.map((n) => n.label)).toEqual(['virtio-console']);
    expect(roots[0].description).toContain('device id 3'); // virtio 1.2 §5: console is device 3
    const all = await flatten(roots, 8);
    const q1 = all.find((n) => n.label === 'Queue 1')!;
    expect(q1.queue).toEqual({ device: 0, queue: 1 });
    const statusRow = all.find((n) => n.id === 'virtio/virtio-console/status')!;
    expect(statusRow.description).toContain('DRIVER_OK');
    const chain = all.find((n) => n.id.startsWith('virtio/virtio-console/q1/inflight/') && n.label.startsWith('chain at head'))!;
    expect(chain).toBeDefined();
    const desc = chain.children![0];
    const rows = await desc.load!();
    const ascii = rows.filter((n) => /^[0-9a-f]{8}  /.test(n.label)).map((n) => n.label.slice(59)).join('');
    // The sample's source says what the driver sends (the first PREVIEW_BYTES of it).
    const hello = /hello\[\] = "([^"\\]*)/.exec(readFileSync(join(SAMPLE, 'virtio.c'), 'utf8'))![1];
    const sent = `${hello}\n`; // the literal ends in \n; the preview shows non-printable bytes as '.'
    expect(ascii).toBe(sent.slice(0, PREVIEW_BYTES).replace(/[^\x20-\x7e]/g, '.'));
    expect(desc.description).toContain(`len ${sent.length}`);
  });

  it('shows a message, not an exception, when a request fails', async () => {
    const failing = { customRequest: () => Promise.reject(new Error('vmscope/vmcs: this run has no hypervisor, so no VMCS')) };
    const data = new StopData(failing);
    data.stopped();
    const roots = await data.roots('vmcs');
    expect(roots).toHaveLength(1);
    expect(roots[0].label).toContain('no hypervisor');
    expect(roots[0].icon).toBe('error');
    data.running();
    expect((await data.roots('ept'))[0].label).toMatch(/running/);
    data.ended('The vmscope debug adapter stopped unexpectedly (exit code 1).');
    expect((await data.roots('virtio'))[0].label).toMatch(/unexpectedly/);
  });
});

describe('VMCS tree', () => {
  it('has every field of the SDM table in its group, and the exit reason and RIP of this stop', async () => {
    const data = new StopData(c);
    data.stopped();
    const r = await data.get('vmcs');
    if (!r.ok) throw new Error(r.message);
    firstStopVmcs = r.body;
    const roots = await data.roots('vmcs');
    const groups = roots.filter((n) => n.id.startsWith('vmcs/g/'));
    expect(groups.map((g) => g.label)).toEqual([...VMCS_GROUPS]);
    for (const g of VMCS_GROUPS) {
      const node = groups.find((n) => n.label === g)!;
      expect(node.children!.map((f) => f.label)).toEqual(VMCS_FIELDS.filter((f) => f.group === g).map((f) => f.name));
    }
    const all = await flatten(roots, 3);
    const field = (name: string) => all.find((n) => n.id.startsWith('vmcs/g/') && n.field === name)!;
    // The stop is an EPT violation: basic exit reason 48 (SDM vol. 3C appendix C).
    const reason = field('VM_EXIT_REASON');
    expect(Number(BigInt(reason.value!) & 0xffffn)).toBe(48);
    expect(reason.children!.find((b) => b.label.includes('basic exit reason'))!.description).toContain('EPT_VIOLATION');
    // GUEST_RIP is the frame DAP reports.
    const st = await c.customRequest('stackTrace', { threadId: 1 });
    const guestFrame = st.stackFrames.find((f: { instructionPointerReference?: string }) => f.instructionPointerReference !== undefined);
    expect(BigInt(field('GUEST_RIP').value!)).toBe(BigInt(guestFrame.instructionPointerReference));
    // Control words expand into named bits, on/off as the value's bits (SDM vol. 3C table 25-6: bit 7 HLT exiting).
    const proc = field('CPU_BASED_VM_EXEC_CONTROL');
    const hlt = proc.children!.find((b) => b.label.startsWith('[7] '))!;
    expect(hlt.description).toBe(((BigInt(proc.value!) >> 7n) & 1n) === 1n ? 'on' : 'off');
    // Read-only data fields (exit information) offer no edit; control fields do.
    expect(field('VM_EXIT_REASON').contextValue).not.toContain('editable');
    expect(proc.contextValue).toContain('editable');
  });


});

describe('EPT tree', () => {
  it('descends from the PML4 to 2 MiB leaves that map guest-physical 0 at the hypervisor\'s guest-RAM base', async () => {
    const body = await c.customRequest('vmscope/ept', {});
    const roots = buildEptTree(body.mappings, c);
    expect(roots[0].description).toBe(body.mappings.eptp.value);
    const maps = roots.find((n) => n.id === 'ept/mappings')!;
    expect(maps.children![0].label).toMatch(/^0x0–/);
    expect(maps.children![0].description).toContain(`→ 0x${HOST_LAYOUT.guestRam.toString(16)} RWX WB`);
    const pml4 = await roots.find((n) => n.id === 'ept/pml4')!.load!();
    expect(pml4[0].label).toBe('[0] PML4E');
    const pdpt = await pml4[0].load!();
    expect(pdpt[0].label).toBe('[0] PDPTE');
    const pdRows = await pdpt[0].load!();
    // 64 MiB of guest RAM (the run's default memoryMiB) in 2 MiB pages: PDEs 0..31, HPA = guest RAM base + GPA;
    // the other 480 entries are counted in one row.
    expect(pdRows.at(-1)!.label).toBe('480 entries not present (not listed)');
    const pd = pdRows.slice(0, -1);
    expect(pd.length).toBe(32);
    pd.forEach((e, i) => {
      expect(e.label).toBe(`[${i}] PDE`);
      expect(e.description).toContain(`2 MiB page → 0x${(HOST_LAYOUT.guestRam + i * 0x200000).toString(16)} WB`);
      expect(e.load).toBeUndefined();
    });
  });

  it('lists a large table in batches with a "more" row', async () => {
    const body = await c.customRequest('vmscope/ept', {});
    const ex = new EptExplorer(c, body.mappings, 10);
    const pdpt = (await c.customRequest('vmscope/ept', { table: body.table.entries[0].target })).table;
    const rows = await ex.tableRows(2, pdpt.entries[0].target);
    expect(rows.length).toBe(12);
    expect(rows[11].label).toBe('480 entries not present (not listed)');
    expect(rows[10].label).toBe('22 more entries…');
    const more = await rows[10].load!();
    expect(more[0].label).toBe('[10] PDE');
  });
});

describe('VM exits tree', () => {
  it('shows statistics that add up, the newest exits first, and pages in the older ones', async () => {
    const body = (await c.customRequest('vmscope/exits', { start: 0, count: 10 })) as ExitsResponseBody;
    expect(body.total).toBeGreaterThan(10);
    const roots = buildExitsTree(body, c);
    const stats = roots[0];
    expect(stats.children!.reduce((a, n) => a + Number(n.value), 0)).toBe(body.total);
    const recent = roots[1].children!;
    const shown = recent.filter((n) => n.rip !== undefined).map((n) => Number(n.label.slice(1).split(' ')[0]));
    expect(shown).toEqual(Array.from({ length: 10 }, (_, i) => body.total - i));
    const older = recent[recent.length - 1];
    expect(older.contextValue).toBe('more');
    const page = await flatten([older], 8);
    const numbers = page.filter((n) => n.rip !== undefined).map((n) => Number(n.label.slice(1).split(' ')[0]));
    // Every earlier exit still in the log, newest first, no gaps, no repeats.
    expect(numbers).toEqual(Array.from({ length: body.total - 10 - (body.firstKept ?? 1) + 1 }, (_, i) => body.total - 10 - i));
  });

  it('reveals an exit\'s instruction at the source line addr2line gives for its RIP', async () => {
    const body = (await c.customRequest('vmscope/exits', { start: 0, count: 1 })) as ExitsResponseBody;
    const rip = body.entries[0].rip;
    const src = await sourceOf(c, rip);
    const ref = execFileSync('addr2line', ['-e', ELF, rip], { encoding: 'utf8' }).trim();
    const [file, line] = ref.split(':');
    expect(src).not.toBeNull();
    expect(src!.path.endsWith(file.split('/').pop()!)).toBe(true);
    expect(src!.line).toBe(Number(line.split(' ')[0]));
  });
});

describe('VMCS tree at the next stops', () => {
  it('marks exactly the fields whose value differs from the previous stop, asking the adapter once per stop', async () => {
    const data = new StopData(c);
    const stop = c.next('stopped');
    await c.customRequest('vmscope/stepToExit', { threadId: 1 });
    expect((await stop).body.description).toMatch(/^VM exit/);
    const before = c.sent.filter((s) => s === 'vmscope/vmcs').length;
    data.stopped();
    await data.roots('vmcs');
    await data.roots('vmcs');
    await data.get('vmcs');
    expect(c.sent.filter((s) => s === 'vmscope/vmcs').length - before).toBe(1);
    const r = await data.get('vmcs');
    if (!r.ok) throw new Error(r.message);
    const old = new Map(firstStopVmcs.groups.flatMap((g) => g.fields.map((f) => [f.name, f.value] as const)));
    const expected = r.body.groups.flatMap((g) => g.fields.filter((f) => old.get(f.name) !== f.value).map((f) => f.name));
    expect(expected.length).toBeGreaterThan(0);
    const roots = await data.roots('vmcs');
    const changed = roots.find((n) => n.id === 'vmcs/changed')!;
    expect(changed.children!.map((n) => n.field)).toEqual(expected);
    expect(changed.children!.every((n) => n.description!.includes('changed'))).toBe(true);
  });

  it('edits a field through setVariable (VMWRITE) and the next answer shows the value', async () => {
    const written = await writeVmcsField(c, 'EXCEPTION_BITMAP', '0x4002');
    expect(BigInt(written)).toBe(0x4002n);
    const data = new StopData(c);
    data.stopped();
    const all = await flatten(await data.roots('vmcs'), 2);
    const f = all.find((n) => n.id.startsWith('vmcs/g/') && n.field === 'EXCEPTION_BITMAP')!;
    expect(BigInt(f.value!)).toBe(0x4002n);
    await expect(writeVmcsField(c, 'NO_SUCH_FIELD', '1')).rejects.toThrow(/NO_SUCH_FIELD/);
  });
});
