// Loader contract types and the one error type every loader throws (re-exported by image.ts).

/** Every malformed or unloadable image is reported as a LoadError whose message says what and where. */
export class LoadError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LoadError';
  }
}

/** ELF program header flags (gABI "Segment Permissions"). */
export const PF_X = 1, PF_W = 2, PF_R = 4;

/**
 * One piece of the image to copy into guest-physical memory. `data` is a view into the image
 * bytes (not a copy); bytes from data.length up to memSize are zero (BSS).
 *
 * Addresses are exact integers. 64-bit values that do not fit below 2^53 but are canonical
 * upper-half addresses (e.g. 0xffffffff80000000 of a higher-half kernel) are given as the
 * negative two's-complement value (-0x80000000), which stays exact; see toAddress() in reader.ts.
 */
export interface LoadSegment {
  paddr: number;
  vaddr: number;
  data: Uint8Array;
  memSize: number;
  flags: number; /* PF_X=1, PF_W=2, PF_R=4 */
}

export interface ImageSymbol {
  name: string;
  address: number;
  size: number;
  kind: 'function' | 'object' | 'other';
}

/** One row of a DWARF line-number matrix (DWARF 5 §6.2.2). `file` is the full path (directory joined with name). */
export interface LineRow {
  address: number;
  file: string;
  line: number;
  column: number;
  isStmt: boolean;
  endSequence: boolean;
}

export interface MultibootInfoRequest {
  /** Physical address of the header's magic in guest memory (a.out kludge: header_addr; ELF: where its file offset lands, 0 when not in a loaded segment). */
  headerAddress: number;
  /** File offset of the header (multiple of 4, below 8192). */
  headerOffset: number;
  /** The header's flags word: bit 0 page-align modules, bit 1 memory info, bit 2 video mode, bit 16 address fields. */
  flags: number;
}

export interface LoadedImage {
  format: 'elf' | 'multiboot' | 'flat';
  /** ELF class (64 for ELF64), 32 for multiboot (the kernel starts in 32-bit protected mode), 32 for flat. */
  bits: 16 | 32 | 64;
  entry: number;
  segments: LoadSegment[];
  /** Sorted by address (then name). */
  symbols: ImageSymbol[];
  /** Sequences in order of their first address, rows sorted by address inside each sequence. */
  lines: LineRow[];
  multiboot?: MultibootInfoRequest;
  /** Things skipped while loading (a malformed DWARF unit, a symbol with a bad name, ...). */
  warnings?: string[];
}
