// The VM-exits view's tree from vmscope/exits answers: statistics by reason and the recent exits, older ones paged in on expand.
import type { ExitEntryView, ExitStatsView, ExitsView } from '../../../emulator/debug/views.js';
import { CUSTOM_REQUESTS, type ExitsArguments, type ExitsResponseBody } from '../../../debug-adapter/protocol.js';
import { errorText, md, note, type Requester, type ViewNode } from './node.js';

/** Exits per page (the first page and each "earlier exits" row). */
export const EXITS_PAGE = 50;

const pct = (x: number): string => `${(x * 100).toFixed(x < 0.001 && x > 0 ? 3 : 1)}%`;

export function exitNode(e: ExitEntryView): ViewNode {
  return {
    id: `exits/e/${e.n}`,
    label: `#${e.n} ${e.name}`,
    description: `${e.summary}${e.summary !== '' ? ' · ' : ''}${e.rip}`,
    tooltip: [
      `**VM exit #${e.n}: ${md(e.name)}** (basic reason ${e.reason})`,
      `RIP ${e.rip} (${e.bits}-bit)${e.bytes !== '' ? `, instruction bytes \`${e.bytes}\`` : ''}`,
      `qualification ${e.qualification}${e.summary !== '' ? `: ${md(e.summary)}` : ''}`,
      `at guest instruction ${e.icount}, ${e.outcome}${e.note !== undefined ? `: ${md(e.note)}` : ''}`,
    ].join('  \n'),
    icon: e.outcome === 'ended' || e.outcome === 'unhandled' ? 'error' : e.outcome === 'injected' ? 'zap' : 'debug-stackframe',
    contextValue: 'value exit',
    value: e.rip,
    rip: e.rip,
    exit: e.n,
  };
}

export function statsNode(s: ExitStatsView): ViewNode {
  return {
    id: 'exits/stats', label: 'Statistics', description: `${s.total} exits, ${s.instructions} guest instructions`, icon: 'graph',
    children: s.rows.length === 0 ? [note('exits/stats/none', 'No VM exits yet')] : s.rows.map((r) => ({
      id: `exits/stats/${r.reason}`, label: r.name, description: `${r.count} (${pct(r.share)}) · ${r.instructions} instr (${pct(r.instructionShare)})`,
      tooltip: `basic exit reason ${r.reason}: ${r.count} of ${s.total} exits; the runs that ended with it retired ${r.instructions} guest instructions`,
      icon: 'symbol-event', contextValue: 'value', value: String(r.count),
    })),
  };
}

/** Rows of exits `first`…`last` are older than the shown ones: a row that loads them (and a further row) on expand. */
export function olderNode(req: Requester, firstKept: number, before: number, page = EXITS_PAGE): ViewNode {
  const start = Math.max(firstKept, before - page);
  return {
    id: `exits/older/${start}`, label: `Earlier exits #${start}–#${before - 1}`, icon: 'history', contextValue: 'more',
    load: async () => {
      try {
        const args: ExitsArguments = { start, count: before - start };
        const body = (await req.customRequest(CUSTOM_REQUESTS.exits, args)) as ExitsResponseBody;
        const rows = [...body.entries].reverse().map(exitNode);
        const oldest = body.entries.length > 0 ? body.entries[0].n : start;
        if (body.firstKept !== null && oldest > body.firstKept) rows.push(olderNode(req, body.firstKept, oldest, page));
        return rows;
      } catch (e) {
        return [note(`exits/older/${start}/error`, errorText(e), 'error')];
      }
    },
  };
}

/** The view: statistics, then the most recent exits (newest first), then a row for earlier ones still kept in the log. */
export function buildExitsTree(body: ExitsView & { stats: ExitStatsView }, req?: Requester): ViewNode[] {
  const out: ViewNode[] = [statsNode(body.stats)];
  const recent = [...body.entries].reverse().map(exitNode);
  const p = body.pending ?? null; // an older adapter sends no `pending`
  if (p !== null) {
    recent.unshift({
      id: `exits/pending/${p.n}`, label: `#${p.n} ${p.name}`, description: `${p.summary ? `${p.summary} · ` : ''}rip ${p.rip} · stopped here, not handled yet`,
      tooltip: `VM exit #${p.n}: ${p.name} (reason ${p.reason}), qualification ${p.qualification}. The run stopped before the hypervisor handled it; the log records it once it is handled.`,
      icon: 'debug-stackframe', contextValue: 'value', value: p.rip,
    });
  }
  const oldest = body.entries.length > 0 ? body.entries[0].n : null;
  if (oldest !== null && req !== undefined && body.firstKept !== null && oldest > body.firstKept) recent.push(olderNode(req, body.firstKept, oldest));
  const dropped = body.firstKept !== null && body.firstKept > 1 ? `; exits before #${body.firstKept} are no longer kept` : '';
  out.push({
    id: 'exits/recent', label: 'Recent exits', description: `${body.entries.length} of ${body.total}${dropped}`, icon: 'list-ordered', expanded: true,
    children: recent.length > 0 ? recent : [note('exits/recent/none', 'No VM exits yet')],
  });
  return out;
}
