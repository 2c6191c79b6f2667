// The views' data for one stop: each custom request made at most once per stop, failures kept as messages for the views (pure, no vscode).
import {
  CUSTOM_REQUESTS, type EptResponseBody, type ExitsResponseBody, type VirtioResponseBody, type VmcsResponseBody,
} from '../../debug-adapter/protocol.js';
import { buildEptTree } from './model/ept-model.js';
import { buildExitsTree, EXITS_PAGE } from './model/exits-model.js';
import { errorText, note, type Requester, type ViewNode } from './model/node.js';
import { buildVirtioTree } from './model/virtio-model.js';
import { buildVmcsTree } from './model/vmcs-model.js';
import { fetchHistory, type HistoryResponseBody } from './time-travel.js';

export type ViewKind = 'vmcs' | 'ept' | 'virtio' | 'exits';
export const VIEW_KINDS: readonly ViewKind[] = ['vmcs', 'ept', 'virtio', 'exits'];

export type Loaded<T> = { ok: true; body: T } | { ok: false; message: string };

/** Where the session is: no session, guest running, stopped (views show data), ended (adapter gone or guest exited). */
export type SessionPhase = 'none' | 'running' | 'stopped' | 'ended';

interface Bodies { vmcs: VmcsResponseBody; ept: EptResponseBody; virtio: VirtioResponseBody; exits: ExitsResponseBody }

const REQUESTS: { [K in ViewKind]: [string, unknown] } = {
  vmcs: [CUSTOM_REQUESTS.vmcs, {}],
  ept: [CUSTOM_REQUESTS.ept, {}],
  virtio: [CUSTOM_REQUESTS.virtio, {}],
  exits: [CUSTOM_REQUESTS.exits, { start: 0, count: EXITS_PAGE }],
};

/**
 * Cached answers of the current stop. vmscope/vmcs marks fields changed against the adapter's previous full
 * VMCS answer, so asking twice at one stop would lose the marks: the cache makes sure it is asked once.
 */
export class StopData {
  private cache = new Map<ViewKind, Promise<Loaded<unknown>>>();
  private historyAnswer: Promise<HistoryResponseBody | null> | undefined;
  phase: SessionPhase = 'none';
  /** Stops seen in this session. */
  stops = 0;
  /** Why the session ended (shown once in the views). */
  endReason = '';

  constructor(public requester: Requester | null) {}

  /** A new stop: forget the previous answers. */
  stopped(): void {
    this.cache.clear();
    this.historyAnswer = undefined;
    this.phase = 'stopped';
    this.stops++;
  }

  running(): void {
    this.cache.clear();
    this.historyAnswer = undefined;
    if (this.phase !== 'ended') this.phase = 'running';
  }

  ended(reason: string): void {
    this.cache.clear();
    this.historyAnswer = undefined;
    this.phase = 'ended';
    this.endReason = reason;
  }

  get<K extends ViewKind>(kind: K): Promise<Loaded<Bodies[K]>> {
    let p = this.cache.get(kind);
    if (p === undefined) {
      const req = this.requester;
      const [command, args] = REQUESTS[kind];
      p = req === null ? Promise.resolve({ ok: false as const, message: 'no session' })
        : Promise.resolve(req.customRequest(command, args)).then((body) => ({ ok: true as const, body }), (e: unknown) => ({ ok: false as const, message: errorText(e) }));
      this.cache.set(kind, p);
    }
    return p as Promise<Loaded<Bodies[K]>>;
  }

  /** vmscope/history at this stop (asked once per stop), null when the adapter records none or there is no session. */
  history(): Promise<HistoryResponseBody | null> {
    if (this.historyAnswer === undefined) this.historyAnswer = this.requester === null || this.phase !== 'stopped' ? Promise.resolve(null) : fetchHistory(this.requester);
    return this.historyAnswer;
  }

  /** The roots of a view for the current phase: data at a stop, a message otherwise (never throws). */
  async roots(kind: ViewKind): Promise<ViewNode[]> {
    switch (this.phase) {
      case 'none': return [];
      case 'running': return [note(`${kind}/running`, 'The guest is running: this view fills in at the next stop (pause, a breakpoint or a VM-exit breakpoint).', 'loading~spin')];
      case 'ended': return [note(`${kind}/ended`, this.endReason || 'The session ended.', 'debug-disconnect')];
      case 'stopped': break;
    }
    const r = await this.get(kind);
    if (!r.ok) return [note(`${kind}/error`, r.message, 'error', r.message)];
    const req = this.requester ?? undefined;
    try {
      switch (kind) {
        case 'vmcs': return buildVmcsTree((r.body as VmcsResponseBody));
        case 'ept': {
          const b = r.body as EptResponseBody;
          if (b.mappings === undefined) return [note('ept/none', 'The adapter sent no mappings', 'error')];
          return req === undefined ? [] : buildEptTree(b.mappings, req);
        }
        case 'virtio': return buildVirtioTree(r.body as VirtioResponseBody, req);
        case 'exits': return buildExitsTree(r.body as ExitsResponseBody, req);
      }
    } catch (e) {
      // A malformed answer (another adapter version) shows as a message, not an exception in the tree.
      return [note(`${kind}/bad`, `Unexpected answer from the adapter: ${errorText(e)}`, 'error')];
    }
    return [];
  }
}

/** Where the instruction at `rip` comes from, through DAP disassemble (the adapter adds source locations from DWARF lines). */
export async function sourceOf(req: Requester, rip: string): Promise<{ path: string; line: number } | null> {
  try {
    const r = (await req.customRequest('disassemble', { memoryReference: rip, instructionCount: 1, resolveSymbols: true })) as
      { instructions?: Array<{ location?: { path?: string }; line?: number }> } | undefined;
    const ins = r?.instructions?.[0];
    if (ins?.location?.path !== undefined && typeof ins.line === 'number' && ins.line > 0) return { path: ins.location.path, line: ins.line };
  } catch { /* no source: the caller opens the disassembly */ }
  return null;
}

/**
 * VMWRITE through DAP setVariable: the adapter's VMCS scope holds groups of fields, each field editable by name.
 * Returns the value the adapter reports after the write.
 */
export async function writeVmcsField(req: Requester, field: string, value: string): Promise<string> {
  const st = (await req.customRequest('stackTrace', { threadId: 1, startFrame: 0, levels: 1 })) as { stackFrames: Array<{ id: number }> };
  const frame = st.stackFrames[0];
  if (frame === undefined) throw new Error('no stack frame to write the VMCS from');
  const sc = (await req.customRequest('scopes', { frameId: frame.id })) as { scopes: Array<{ name: string; variablesReference: number }> };
  const vmcs = sc.scopes.find((s) => s.name === 'VMCS');
  if (vmcs === undefined) throw new Error('this run has no VMCS');
  const groups = (await req.customRequest('variables', { variablesReference: vmcs.variablesReference })) as { variables: Array<{ name: string; variablesReference: number }> };
  for (const g of groups.variables) {
    const fields = (await req.customRequest('variables', { variablesReference: g.variablesReference })) as { variables: Array<{ name: string }> };
    if (fields.variables.some((f) => f.name === field)) {
      const r = (await req.customRequest('setVariable', { variablesReference: g.variablesReference, name: field, value })) as { value: string };
      return r.value;
    }
  }
  throw new Error(`no VMCS field named ${field}`);
}
