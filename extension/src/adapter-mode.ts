// The vmscope.adapter.* settings read into one choice: inline (default), process, or server at a port (pure, no vscode).

export type AdapterChoice = { mode: 'inline' } | { mode: 'process' } | { mode: 'server'; port: number };

export const ADAPTER_MODES = ['inline', 'process', 'server'] as const;
export const DEFAULT_PORT = 4711;

/** Settings come from users' JSON: anything unexpected falls back to inline, with a note of why. */
export function adapterChoice(mode: unknown, port: unknown): { choice: AdapterChoice; warning?: string } {
  if (mode === undefined || mode === null || mode === 'inline') return { choice: { mode: 'inline' } };
  if (mode === 'process') return { choice: { mode: 'process' } };
  if (mode === 'server') {
    const p = port === undefined || port === null ? DEFAULT_PORT : port;
    if (typeof p === 'number' && Number.isInteger(p) && p >= 1 && p <= 65535) return { choice: { mode: 'server', port: p } };
    return { choice: { mode: 'inline' }, warning: `vmscope.adapter.port must be a port number 1..65535 (got ${JSON.stringify(port)}); running the adapter inline` };
  }
  return { choice: { mode: 'inline' }, warning: `vmscope.adapter.mode must be one of ${ADAPTER_MODES.join(', ')} (got ${JSON.stringify(mode)}); running the adapter inline` };
}
