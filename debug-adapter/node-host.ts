// The Node host of the adapter: reads guest images and disk images from files, disassembles with iced-x86, traces to stderr.
import { readFileSync, statSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import * as iced from 'iced-x86';
import { LoadError, parseLaunchConfig } from '../emulator/index.js';
import { nodeDiskOpener } from '../cli/disk.js';
import { icedDisassembler, type IcedModule } from './disasm.js';
import { createMachineTarget } from './machine-target.js';
import type { AdapterHost, Target, TargetLaunch } from './target.js';

/** Largest guest image read (as the CLI). */
const MAX_IMAGE = 1024 * 1024 * 1024;

function readImage(path: string): Uint8Array {
  let st;
  try { st = statSync(path); } catch { throw new LoadError(`cannot open image ${path}: no such file`); }
  if (st.isDirectory()) throw new LoadError(`image ${path} is a directory, not a file`);
  if (st.size > MAX_IMAGE) throw new LoadError(`image ${path} is ${st.size} bytes; images larger than 1 GiB are refused`);
  return new Uint8Array(readFileSync(path));
}

export function nodeHost(opts: { trace?: (line: string) => void } = {}): AdapterHost {
  return {
    createTarget(launch: TargetLaunch): Target {
      const base = launch.cwd !== undefined ? resolve(launch.cwd) : process.cwd();
      // parseLaunchConfig first: a bad field is reported by its name before any file is opened.
      const config0 = parseLaunchConfig(launch.config);
      const path = isAbsolute(config0.program) ? config0.program : resolve(base, config0.program);
      return createMachineTarget(readImage(path), config0, {
        sourceRoot: dirname(path),
        exitStage: launch.exitStage,
        onConsole: launch.onConsole,
        openDisk: nodeDiskOpener(base),
        log: launch.log,
      });
    },
    disassembler: icedDisassembler(iced as unknown as IcedModule),
    trace: opts.trace ?? ((line) => process.stderr.write(`[vmscope-dap] ${line}\n`)),
  };
}

