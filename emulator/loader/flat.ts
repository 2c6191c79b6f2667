// Flat binary loader: the whole file is one segment at a given physical address.

import { hex } from './reader.js';
import { LoadError, LoadedImage, PF_R, PF_W, PF_X } from './types.js';

/** Used only when the caller gives none; the machine's start mode normally chooses (0x7C00 real, 0x100000 protected/long). */
export const DEFAULT_FLAT_LOAD_ADDRESS = 0x100000;

export function loadFlat(bytes: Uint8Array, loadAddress: number = DEFAULT_FLAT_LOAD_ADDRESS, entry?: number): LoadedImage {
  if (!Number.isSafeInteger(loadAddress) || loadAddress < 0) throw new LoadError(`flat image: load address ${loadAddress} is not a non-negative integer`);
  if (bytes.length === 0) throw new LoadError('flat image: the file is empty');
  const e = entry ?? loadAddress;
  if (!Number.isSafeInteger(e)) throw new LoadError(`flat image: entry ${e} is not an integer`);
  if (e < loadAddress || e >= loadAddress + bytes.length) {
    // Allowed (a stub may jump elsewhere), but almost always a mistake worth a word.
    return {
      format: 'flat', bits: 32, entry: e, symbols: [], lines: [],
      segments: [{ paddr: loadAddress, vaddr: loadAddress, data: bytes, memSize: bytes.length, flags: PF_R | PF_W | PF_X }],
      warnings: [`flat image: entry ${hex(e)} lies outside the loaded bytes ${hex(loadAddress)}+${hex(bytes.length)}`],
    };
  }
  return {
    format: 'flat', bits: 32, entry: e, symbols: [], lines: [],
    segments: [{ paddr: loadAddress, vaddr: loadAddress, data: bytes, memSize: bytes.length, flags: PF_R | PF_W | PF_X }],
  };
}
