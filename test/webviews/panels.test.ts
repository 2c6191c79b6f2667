// The picture panels' glue (extension/src/pictures/index.ts) against a stand-in for the vscode API: one reused panel per kind, the requests it sends, re-rendering at each stop, the no-session page, the webview's messages.
import { describe, expect, it, vi } from 'vitest';

interface FakePanel {
  viewType: string;
  options: Record<string, unknown>;
  webview: { html: string; cspSource: string; onMessage?: (m: unknown) => void; onDidReceiveMessage(f: (m: unknown) => void): void };
  reveal: ReturnType<typeof vi.fn>;
  dispose(): void;
  onDispose?: () => void;
  onDidDispose(f: () => void): void;
}
const created: FakePanel[] = [];

vi.mock('vscode', () => ({
  ViewColumn: { Beside: -2 },
  commands: { executeCommand: vi.fn(async () => undefined) },
  Uri: { file: (p: string) => ({ fsPath: p }) },
  window: {
    createWebviewPanel: (viewType: string, _title: string, _col: number, options: Record<string, unknown>) => {
      const p: FakePanel = {
        viewType, options,
        webview: { html: '', cspSource: 'vscode-webview://fake', onDidReceiveMessage(f) { this.onMessage = f; } },
        reveal: vi.fn(),
        dispose() { this.onDispose?.(); },
        onDidDispose(f) { this.onDispose = f; },
      };
      created.push(p);
      return p;
    },
  },
}));

describe('picture panels', () => {
  it('opens one panel per kind, reuses it, re-renders at each stop and shows how to get a session at the end', async () => {
    const { openPicture, refreshPictures } = await import('../../extension/src/pictures/index.js');
    const { pagingTarget, virtioTarget, exitsRequest, wire } = await import('./models.js');
    const t = pagingTarget();
    const calls: Array<[string, unknown]> = [];
    const source = {
      customRequest: async (command: string, args?: unknown) => {
        calls.push([command, args]);
        const a = (args ?? {}) as Record<string, unknown>;
        if (command === 'vmscope/pageWalk') return wire(t.pageWalkBody(BigInt(a.gva as string)));
        if (command === 'vmscope/exits') return exitsRequest(t)(a);
        if (command === 'vmscope/virtio') return wire(t.virtioBody());
        throw new Error(`unexpected ${command}`);
      },
    };
    const uri = { fsPath: '/ext' } as never;
    await openPicture('pageWalk', source, uri, { gva: '0x40005008' });
    expect(created.length).toBe(1);
    expect(created[0].options).toMatchObject({ enableScripts: true, retainContextWhenHidden: false });
    expect(calls).toEqual([['vmscope/pageWalk', { gva: '0x40005008' }]]);
    const first = created[0].webview.html;
    expect(first).toContain('Page walk of <span class="mono">0x40005008</span>');
    expect(first).toContain('style-src vscode-webview://fake &#39;nonce-');
    // Reused: a second open retargets the same panel.
    await openPicture('pageWalk', source, uri, { gva: '0x40006000' });
    expect(created.length).toBe(1);
    expect(created[0].reveal).toHaveBeenCalled();
    expect(created[0].webview.html).toContain('data-stop-reason="not-present"');
    // The timeline: paged requests, and the window the webview reports is kept for the next render.
    await openPicture('exitTimeline', source, uri);
    expect(created.length).toBe(2);
    expect(calls.filter(([c]) => c === 'vmscope/exits').length).toBeGreaterThanOrEqual(2);
    created[1].webview.onMessage!({ type: 'window', lo: 10, hi: 20 });
    // The virtio panel on a machine without virtio devices says so.
    await openPicture('virtioRing', source, uri, { device: 0, queue: 0 });
    expect(created[2].webview.html).toContain('no virtio devices');
    // A stop: every panel asks again.
    calls.length = 0;
    refreshPictures(source);
    await vi.waitFor(() => expect(created[1].webview.html).toContain('data-lo="10" data-hi="20"'));
    expect(calls.map(([c]) => c)).toContain('vmscope/pageWalk');
    expect(calls.map(([c]) => c)).toContain('vmscope/virtio');
    // The session ended.
    refreshPictures(undefined);
    await vi.waitFor(() => { for (const p of created) expect(p.webview.html).toContain('No vmscope debug session is stopped'); });
    // A virtio session: the selector's message re-renders the chosen queue.
    const vt = await virtioTarget('console');
    if (vt !== null) {
      const vs = { customRequest: async () => wire(vt.virtioBody()) };
      await openPicture('virtioRing', vs, uri);
      expect(created[2].webview.html).toMatch(/<option value="0:0" selected>/); // the selection given at the first open
      created[2].webview.onMessage!({ type: 'select', device: 0, queue: 1 });
      await vi.waitFor(() => expect(created[2].webview.html).toMatch(/<option value="0:1" selected>/));
      expect(created[2].webview.html).toContain('data-queue="1"');
    }
    // Closing a panel forgets it: the next open creates a new one.
    created[0].dispose();
    await openPicture('pageWalk', source, uri, { gva: '0x40005008' });
    expect(created.length).toBe(4);
  });

  it('the timeline asks vmscope/history at each render, and its "Go to exit" message runs vmscope.gotoExit with the exit number', async () => {
    const vscode = (await import('vscode')) as unknown as { commands: { executeCommand: ReturnType<typeof vi.fn> } };
    const { openPicture, refreshPictures } = await import('../../extension/src/pictures/index.js');
    const { loopTarget, exitsRequest } = await import('./models.js');
    const t = loopTarget(20);
    const ics = t.exitsBody(0, 20).entries.map((e) => e.icount);
    let history: unknown = { oldestIcount: ics[1], currentIcount: ics[9], newestIcount: ics[15], bytes: 1 << 20, budgetBytes: 512 << 20, snapshots: 3 };
    const calls: string[] = [];
    const source = {
      customRequest: async (command: string, args?: unknown) => {
        calls.push(command);
        if (command === 'vmscope/exits') return exitsRequest(t)((args ?? {}) as never);
        if (command === 'vmscope/history') { if (history instanceof Error) throw history; return history; }
        throw new Error(`unexpected ${command}`);
      },
    };
    // A fresh panel (the one of the test above keeps its zoom window).
    for (const p of created.filter((x) => x.viewType === 'vmscope.exitTimeline')) p.dispose();
    await openPicture('exitTimeline', source, { fsPath: '/ext' } as never);
    const panel = created.at(-1)!;
    expect(panel.viewType).toBe('vmscope.exitTimeline');
    expect(calls.filter((c) => c === 'vmscope/history')).toHaveLength(1);
    expect(panel.webview.html).toContain(`<g class="cursor" data-icount="${ics[9]}">`);
    // The next stop moved the machine (went back): the cursor follows.
    history = { oldestIcount: ics[1], currentIcount: ics[3], newestIcount: ics[15], bytes: 1 << 20, budgetBytes: 512 << 20, snapshots: 3 };
    refreshPictures(source);
    await vi.waitFor(() => expect(panel.webview.html).toContain(`<g class="cursor" data-icount="${ics[3]}">`));
    // An adapter without history: the timeline still renders, without cursor.
    history = new Error('unknown request "vmscope/history"');
    refreshPictures(source);
    await vi.waitFor(() => expect(panel.webview.html).toContain('no recorded history'));
    expect(panel.webview.html).toContain('class="exit"');
    vscode.commands.executeCommand.mockClear();
    panel.webview.onMessage!({ type: 'gotoExit', n: 7 });
    for (const bad of [{ type: 'gotoExit', n: '7' }, { type: 'gotoExit', n: -1 }, { type: 'gotoExit', n: 1.5 }, { type: 'gotoExit' }, null, 'gotoExit']) panel.webview.onMessage!(bad);
    expect(vscode.commands.executeCommand.mock.calls).toEqual([['vmscope.gotoExit', 7]]);
  });
});
