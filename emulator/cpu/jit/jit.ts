// The block translator's cache: hot-spot counting per physical code page, block building, JavaScript generation (or the threaded form without `new Function`), invalidation and a bounded size.
import type { Cpu, InstructionHandler } from '../cpu.js';
import { PF } from '../regs.js';
import { buildBlock, type Block } from './block.js';
import { generateBlockSource } from './codegen.js';
import { cond } from '../cond.js';

/** An address is translated after the interpreter has run it this many times. */
export const HOT_THRESHOLD = 8;
/** Bounds on the cache: past either, everything is dropped (deterministic: it depends on the run only). */
export const MAX_BLOCKS = 8192;
export const MAX_PAGES = 2048;

const PARITY = new Uint8Array(256);
for (let i = 0; i < 256; i++) {
  let b = i, p = 1;
  while (b) { p ^= b & 1; b >>= 1; }
  PARITY[i] = p ? PF : 0;
}

/** The bytes of a page memory does not have yet (never written), for blockKey. */
const ZERO_PAGE = new Uint8Array(4096);

/** Shared by every page with no block yet (never written). */
const NO_BLOCKS: (Block | undefined)[] = new Array(4096);

/** The blocks and hit counters of one physical code page, indexed by byte offset. */
export class BlockPage {
  blocks: (Block | undefined)[] = NO_BLOCKS;
  /** Interpretations of each offset, up to HOT_THRESHOLD; 255 once translation was attempted. */
  readonly hits = new Uint8Array(4096);
  constructor(readonly ppn: number) {}
}


type Factory = (I: unknown[], H: InstructionHandler[], condFn: typeof cond, parity: Uint8Array) => (c: Cpu, limit: number) => void;

/**
 * Factories by source text, shared by every Cpu: a block translated again (another machine, a page
 * written and run again) reuses its factory, so the engine's optimized code for it is reused too.
 */
const factories = new Map<string, Factory>();
const MAX_FACTORIES = 4096;

/**
 * Factories by what the source is made from (blockKey): a block built again from the same bytes at the same RIP (every
 * new machine booting the same image, a page written and run again) finds its factory without generating the source
 * and hashing it, which cost most of a translation (about 0.1 ms per block while that code is still cold).
 */
const factoriesByKey = new Map<string, Factory>();

/**
 * What generateBlockSource's text depends on: the code size, the RIP and CS-limit need, whether it may loop in itself,
 * and per instruction its RIP, link and bytes (which, with the code size, decode to the same instruction). `bytes` is the
 * block's code page, `off` the page offset of `b.rip`.
 */
function blockKey(b: Block, allowSelfLoop: boolean, bytes: Uint8Array, off: number): string {
  let key = `${b.mode} ${b.rip} ${b.needLimit} ${allowSelfLoop ? 1 : 0}`;
  for (let k = 0; k < b.insns.length; k++) {
    const at = off + (b.rips[k] - b.rip), len = b.insns[k].length;
    key += ` ${b.rips[k] - b.rip}:${b.links[k]}:`;
    for (let j = 0; j < len; j++) key += String.fromCharCode(65 + (bytes[at + j] >>> 4), 65 + (bytes[at + j] & 15));
  }
  return key;
}

/** Whether `new Function` works here (a Content-Security-Policy may forbid it); checked once. */
let generationAvailable: boolean | null = null;
function canGenerate(): boolean {
  if (generationAvailable === null) {
    try {
      generationAvailable = (new Function('return 1') as () => number)() === 1;
    } catch {
      generationAvailable = false;
    }
  }
  return generationAvailable;
}

/** Block sources generated so far in this process (a statistic: a block found by blockKey generates none). */
let sourcesGenerated = 0;
export function blockSourcesGenerated(): number { return sourcesGenerated; }

/** Tests may look at the generated source (set to a function to receive each block's). */
export let dumpSource: ((src: string) => void) | null = null;
export function setDumpSource(f: ((src: string) => void) | null): void { dumpSource = f; }

export class Jit {
  private readonly pages = new Map<number, BlockPage>();
  private blockCount = 0;
  /** Generate JavaScript (true) or run blocks in threaded form (false). */
  generate: boolean;
  /** Blocks built so far (a statistic for tests and benchmarks). */
  compiled = 0;

  /** `onFlush` is told when every block was dropped (the owner forgets pages it holds). */
  constructor(private readonly onFlush: () => void, generate = true) {
    this.generate = generate && canGenerate();
  }

  /** The page record for a physical page number (created on first use). */
  page(ppn: number): BlockPage {
    let p = this.pages.get(ppn);
    if (p === undefined) {
      if (this.pages.size >= MAX_PAGES) this.flush();
      p = new BlockPage(ppn);
      this.pages.set(ppn, p);
    }
    return p;
  }

  /** A code page was written: its blocks are stale. */
  dropPage(ppn: number): void {
    const p = this.pages.get(ppn);
    if (p === undefined) return;
    for (const b of p.blocks) if (b !== undefined) this.blockCount--;
    this.pages.delete(ppn);
  }

  flush(): void {
    this.pages.clear();
    this.blockCount = 0;
    this.onFlush();
  }

  /** Build the block at `off` of `page` for `rip`; undefined when nothing there can be translated. */
  translate(c: Cpu, page: BlockPage, off: number, rip: number): Block | undefined {
    if (this.blockCount >= MAX_BLOCKS) { this.flush(); return undefined; }
    const mode = c.codeSize;
    if (mode === 16) return undefined;
    const bytes = c.mem.pageOrNull(page.ppn);
    const b = buildBlock(bytes, off, rip, mode, c.breakpoints, Cpu_handlers(c), page.hits);
    if (b === null) return undefined;
    if (this.generate) {
      try {
        const selfLoop = !c.breakpoints.has(rip);
        // A page memory does not have (never written) reads as zeros to buildBlock too.
        const key = blockKey(b, selfLoop, bytes ?? ZERO_PAGE, off);
        let factory = dumpSource === null ? factoriesByKey.get(key) : undefined;
        if (factory === undefined) {
          const src = generateBlockSource(b, selfLoop);
          sourcesGenerated++;
          if (dumpSource !== null) dumpSource(src);
          factory = factories.get(src);
          if (factory === undefined) {
            if (factories.size >= MAX_FACTORIES) { factories.clear(); factoriesByKey.clear(); }
            factory = new Function('I', 'H', 'cond', 'PARITY', src) as Factory;
            factories.set(src, factory);
          }
          if (factoriesByKey.size >= MAX_FACTORIES) factoriesByKey.clear();
          factoriesByKey.set(key, factory);
        }
        b.fn = factory(b.insns, b.handlers, cond, PARITY) as Block['fn'];
      } catch {
        b.fn = null; // threaded form
      }
    }
    if (page.blocks === NO_BLOCKS) page.blocks = new Array(4096);
    if (page.blocks[off] === undefined) this.blockCount++;
    page.blocks[off] = b;
    this.compiled++;
    return b;
  }
}

function Cpu_handlers(c: Cpu): InstructionHandler[] {
  return (c.constructor as unknown as { handlers: InstructionHandler[] }).handlers;
}

/**
 * Run block `b` without generated code: its instructions' handlers back to back, with the run
 * loop's bookkeeping and, between instructions, the checks that end a block early.
 */
export function runThreaded(c: Cpu, b: Block): void {
  const insns = b.insns, hs = b.handlers, rips = b.rips, n = insns.length;
  const ep = c.codeEpoch;
  for (let k = 0; k < n; k++) {
    const i = insns[k];
    c.cur = i;
    c.nextRip = c.rip + i.length;
    hs[k](c, i);
    if (c.vmexitPending) return;
    c.rip = c.nextRip;
    c.icount++;
    if (c.stopRequested || c.codeEpoch !== ep || (c.vmx !== null && c.vmx.boundaryPending)) return;
    // A trace continues only where the instruction went (a RET to another address leaves).
    if (k + 1 < n && c.rip !== rips[k + 1]) return;
  }
}
