// A DebugClient on the adapter bundle over stdio for the DAP tests, with the output events it receives gathered by category.
import { DebugClient } from '@vscode/debugadapter-testsupport';
import type { DebugProtocol } from '@vscode/debugprotocol';

/** The session's output: `stdout` (the guest's console) and everything else (the adapter's messages). */
export interface SessionOutput { stdout: string; console: string }

/** Start a client on `adapter`; `out` is cleared, then gathers the session's output. */
export async function startClient(adapter: string, out: SessionOutput): Promise<DebugClient> {
  const dc = new DebugClient('node', adapter, 'vmscope');
  dc.defaultTimeout = 20_000;
  out.stdout = '';
  out.console = '';
  dc.on('output', (e: DebugProtocol.OutputEvent) => {
    if (e.body.category === 'stdout') out.stdout += e.body.output;
    else out.console += e.body.output;
  });
  await dc.start();
  return dc;
}
