// Runs in Chromium: loads the extension's browser bundle (web.js) with a stand-in `vscode`, launches a guest inline and collects its console output.
import { fakeVscode } from '../extension/fake-vscode.js';

export interface WebRun { output: string; exitCode: number | null; events: string[]; error?: string }

/** Evaluate the CommonJS bundle with `require('vscode')` answered by the stand-in; any other require is a bundling bug. */
function load(code: string, api: unknown): { activate(ctx: unknown): void } {
  const module = { exports: {} as Record<string, unknown> };
  const require = (name: string): unknown => {
    if (name === 'vscode') return api;
    throw new Error(`the browser bundle required "${name}", which a browser does not have`);
  };
  new Function('require', 'module', 'exports', code)(require, module, module.exports);
  return module.exports as unknown as { activate(ctx: unknown): void };
}

export async function runInBrowser(bundle: string, files: Record<string, Uint8Array>, config: Record<string, unknown>): Promise<WebRun> {
  const fs = {
    stat(path: string) { const f = files[path]; if (f === undefined) throw new Error(`no file ${path}`); return { size: f.length, type: 1 }; },
    readFile(path: string) { const f = files[path]; if (f === undefined) throw new Error(`no file ${path}`); return f; },
  };
  const { api, rec } = fakeVscode(fs);
  const ext = load(bundle, api);
  ext.activate({ subscriptions: [], extensionUri: api.Uri.parse('vscode-vfs://ext/') });
  const provider = rec.providers.get('vmscope');
  const resolved = await provider.resolveDebugConfigurationWithSubstitutedVariables(undefined, config);
  if (resolved === undefined) return { output: '', exitCode: null, events: [], error: rec.messages.join('\n') };
  const adapter = rec.factories.get('vmscope')!.createDebugAdapterDescriptor().implementation as InlineAdapter;
  return drive(adapter, resolved);
}

interface Message { type: string; seq: number; command?: string; event?: string; request_seq?: number; success?: boolean; message?: string; body?: any }
interface InlineAdapter { handleMessage(m: unknown): void; onDidSendMessage(f: (m: Message) => void): unknown }

/** initialize → launch → configurationDone, then wait for `exited` (VS Code's order for a launch without breakpoints). */
function drive(adapter: InlineAdapter, config: Record<string, unknown>): Promise<WebRun> {
  return new Promise((resolve) => {
    let seq = 1, output = '';
    const events: string[] = [];
    const waiting = new Map<number, (m: Message) => void>();
    const request = (command: string, args?: unknown) => new Promise<Message>((done) => {
      const s = seq++;
      waiting.set(s, done);
      adapter.handleMessage({ seq: s, type: 'request', command, arguments: args });
    });
    const fail = (error: string) => resolve({ output, exitCode: null, events, error });
    adapter.onDidSendMessage((m) => {
      if (m.type === 'response') { waiting.get(m.request_seq!)?.(m); waiting.delete(m.request_seq!); return; }
      if (m.type !== 'event') return;
      events.push(m.event!);
      if (m.event === 'output' && m.body?.category === 'stdout') output += m.body.output;
      if (m.event === 'exited') resolve({ output, exitCode: m.body.exitCode, events });
    });
    void (async () => {
      const init = await request('initialize', { adapterID: 'vmscope', linesStartAt1: true, columnsStartAt1: true, pathFormat: 'path' });
      if (!init.success) return fail(`initialize: ${init.message}`);
      const launch = await request('launch', config);
      if (!launch.success) return fail(`launch: ${launch.message}`);
      const done = await request('configurationDone');
      if (!done.success) fail(`configurationDone: ${done.message}`);
    })();
  });
}
