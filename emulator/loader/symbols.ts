// SymbolTable: address -> enclosing symbol (+offset) and name -> symbol lookups over an image's symbols.

import { ImageSymbol } from './types.js';

export class SymbolTable {
  private readonly syms: ImageSymbol[];
  private readonly names = new Map<string, ImageSymbol>();

  /** `syms` need not be sorted; the table keeps its own sorted copy. */
  constructor(syms: ImageSymbol[]) {
    this.syms = [...syms].sort((a, b) => a.address - b.address);
    for (const s of this.syms) if (!this.names.has(s.name)) this.names.set(s.name, s);
  }

  /**
   * The symbol that covers `address`: among the symbols at the greatest address <= `address`,
   * one whose size covers it (functions first); a sized symbol that ends before `address`
   * does not cover it. Size-0 symbols (assembler labels) cover up to the next symbol.
   */
  lookup(address: number): { symbol: ImageSymbol; offset: number } | undefined {
    const s = this.syms;
    let lo = 0, hi = s.length - 1, found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (s[mid].address <= address) { found = mid; lo = mid + 1; } else hi = mid - 1;
    }
    if (found < 0) return undefined;
    const at = s[found].address;
    let best: ImageSymbol | undefined;
    let rank = -1;
    for (let i = found; i >= 0 && s[i].address === at; i--) {
      const sym = s[i];
      const covers = sym.size > 0 && address < sym.address + sym.size;
      const r = covers ? (sym.kind === 'function' ? 4 : 3) : sym.size === 0 ? (sym.kind === 'function' ? 2 : 1) : -1;
      if (r > rank) { rank = r; best = sym; }
    }
    if (best === undefined) return undefined;
    return { symbol: best, offset: address - best.address };
  }

  /** The first symbol (lowest address) with this name. */
  byName(name: string): ImageSymbol | undefined {
    return this.names.get(name);
  }

  get all(): readonly ImageSymbol[] {
    return this.syms;
  }
}
