// The extension's side of reverse debugging: vmscope/gotoExit and vmscope/history requests, an adapter without them told apart from a failed request, the status-bar history text (pure, no vscode).
import { CUSTOM_REQUESTS, type GotoExitArguments, type GotoExitResponseBody, type HistoryResponseBody } from '../../debug-adapter/protocol.js';
import { errorText, type Requester } from './model/node.js';

export type { GotoExitResponseBody, HistoryResponseBody } from '../../debug-adapter/protocol.js';

/** The adapter's time-travel requests (issue 9): vmscope/gotoExit {index} (the exit's number `n` in vmscope/exits entries) and vmscope/history. */
export const TIME_TRAVEL_REQUESTS = { gotoExit: CUSTOM_REQUESTS.gotoExit, history: CUSTOM_REQUESTS.history } as const;

/** The adapter does not know the request (an older adapter, or recording is off). */
export class TimeTravelUnsupported extends Error {
  constructor(readonly request: string, readonly detail: string) {
    super(`this debug adapter cannot ${request === TIME_TRAVEL_REQUESTS.gotoExit ? 'go back to a recorded VM exit' : 'report its recorded history'} (${request}: ${detail}). Reverse debugging needs a vmscope adapter with time travel and "historyMiB" above 0 in the launch configuration.`);
    this.name = 'TimeTravelUnsupported';
  }
}

/** How @vscode/debugadapter (and VS Code) answer a request nobody handles. */
const UNSUPPORTED = /unrecogni[sz]ed request|unknown request|not supported|unsupported|not implemented|no handler/i;

export function isUnsupported(e: unknown): boolean {
  return UNSUPPORTED.test(errorText(e));
}

/** RIP as 0x… (an answer without a usable one: "?"). */
export function ripText(rip: number): string {
  return Number.isSafeInteger(rip) ? `0x${(rip < 0 ? BigInt.asUintN(64, BigInt(rip)) : BigInt(rip)).toString(16)}` : '?';
}

/** Go to exit `index`; throws TimeTravelUnsupported for an adapter without the request, the adapter's error otherwise. */
export async function gotoExit(req: Requester, index: number): Promise<GotoExitResponseBody> {
  if (!Number.isSafeInteger(index) || index < 1) throw new Error(`not an exit number: ${String(index)}`);
  let body: unknown;
  try {
    body = await req.customRequest(TIME_TRAVEL_REQUESTS.gotoExit, { index } satisfies GotoExitArguments);
  } catch (e) {
    if (isUnsupported(e)) throw new TimeTravelUnsupported(TIME_TRAVEL_REQUESTS.gotoExit, errorText(e));
    throw e;
  }
  const b = body as Partial<GotoExitResponseBody> | undefined;
  return { icount: typeof b?.icount === 'number' ? b.icount : NaN, rip: typeof b?.rip === 'number' ? b.rip : NaN };
}

const finite = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v >= 0;

/** The recorded history, or null when the adapter has none (older adapter, recording off, a malformed answer). */
export async function fetchHistory(req: Requester): Promise<HistoryResponseBody | null> {
  let b: unknown;
  try { b = await req.customRequest(TIME_TRAVEL_REQUESTS.history, {}); } catch { return null; }
  const h = b as Partial<HistoryResponseBody> | undefined;
  if (h === undefined || h === null || typeof h !== 'object') return null;
  const { oldestIcount, currentIcount, newestIcount, bytes, budgetBytes, snapshots } = h;
  if (![oldestIcount, currentIcount, newestIcount, bytes, budgetBytes].every(finite) || oldestIcount! > newestIcount!) return null;
  return { oldestIcount: oldestIcount!, currentIcount: currentIcount!, newestIcount: newestIcount!, bytes: bytes!, budgetBytes: budgetBytes!, snapshots: finite(snapshots) ? snapshots : 0 };
}

const MIB = 1024 * 1024;
const mib = (b: number): string => { const m = b / MIB; return m >= 100 || m === 0 ? m.toFixed(0) : m >= 10 ? m.toFixed(1) : m.toFixed(2); };
const instr = (n: number): string => (n >= 1e9 ? `${(n / 1e9).toFixed(2)} G` : n >= 1e6 ? `${(n / 1e6).toFixed(1)} M` : n >= 1e3 ? `${(n / 1e3).toFixed(1)} k` : `${n}`);

/** "history: 12.3 M instr, 40.0 MiB / 512 MiB": instructions the history spans, its memory and the budget. */
export function historyText(h: HistoryResponseBody): string {
  return `history: ${instr(Math.max(0, h.newestIcount - h.oldestIcount))} instr, ${mib(h.bytes)} MiB / ${mib(h.budgetBytes)} MiB`;
}
