// Opens virtio-blk disk images for a run (Node): the image bytes, and write-through to the file when configured.
import { closeSync, fsyncSync, openSync, readFileSync, statSync, writeSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import type { OpenedDisk } from '../emulator/machine.js';
import { LoadError } from '../emulator/index.js';
import type { DiskConfig } from '../emulator/config.js';

/** Largest disk image vmscope reads into memory. */
const MAX_IMAGE_BYTES = 1024 * 1024 * 1024;

/**
 * An `openDisk` for the machine: relative image paths are resolved against `baseDir` (the
 * configuration file's folder, or the working directory). With writeThrough, every guest write
 * goes to the file at once and FLUSH fsyncs it; otherwise the file is only read.
 */
export function nodeDiskOpener(baseDir: string): (disk: DiskConfig) => OpenedDisk {
  return (disk) => {
    const path = isAbsolute(disk.image) ? disk.image : resolve(baseDir, disk.image);
    let st;
    try { st = statSync(path); } catch { throw new LoadError(`virtio-blk: cannot open disk image ${path}: no such file`); }
    if (st.isDirectory()) throw new LoadError(`virtio-blk: disk image ${path} is a directory`);
    if (st.size > MAX_IMAGE_BYTES) throw new LoadError(`virtio-blk: disk image ${path} is ${st.size} bytes; images over 1 GiB are refused`);
    if (st.size < 512) throw new LoadError(`virtio-blk: disk image ${path} is ${st.size} bytes, smaller than one 512-byte sector`);
    const bytes = new Uint8Array(readFileSync(path));
    if (!disk.writeThrough) return { bytes };
    let fd: number;
    try { fd = openSync(path, 'r+'); } catch (e) { throw new LoadError(`virtio-blk: cannot open ${path} for writing: ${(e as Error).message}`); }
    return {
      bytes,
      persist: (offset, data) => { writeSync(fd, data, 0, data.length, offset); },
      sync: () => { fsyncSync(fd); },
      // The descriptor lives as long as the process: a run ends with it.
      ...{ close: () => closeSync(fd) },
    };
  };
}
