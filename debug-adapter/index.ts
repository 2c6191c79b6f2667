// The debug adapter's public surface for the extension: the session factory, the Node host and the vmscope DAP dialect's types.
export { createSession, VmscopeSession } from './session.js';
export { nodeHost } from './node-host.js';
export type { AdapterHost, Target, TargetLaunch, Disassembler } from './target.js';
export * from './protocol.js';
