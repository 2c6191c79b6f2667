// The browser entry (VS Code for the Web): the adapter and emulator run inline; images and disks are read through vscode.workspace.fs before launch.
import * as vscode from 'vscode';
import { createSession } from '../../debug-adapter/session.js';
import { createMachineTarget } from '../../debug-adapter/machine-target.js';
import type { AdapterHost } from '../../debug-adapter/target.js';
import { LoadError, parseLaunchConfig } from '../../emulator/index.js';
import { activateCommon } from './activate.js';

/** Largest image or disk read into memory (as the Node host). */
const MAX_IMAGE = 1024 * 1024 * 1024;

/** Files read before the launch, by the path as the configuration names it. */
const files = new Map<string, Uint8Array>();

function resolveUri(path: string, base: vscode.Uri | undefined): vscode.Uri {
  if (/^[a-z][a-z0-9+.-]+:\/\//i.test(path)) return vscode.Uri.parse(path);
  if (path.startsWith('/') || base === undefined) return base !== undefined ? base.with({ path }) : vscode.Uri.file(path);
  return vscode.Uri.joinPath(base, path);
}

async function load(path: string, base: vscode.Uri | undefined, what: string): Promise<void> {
  const uri = resolveUri(path, base);
  let st;
  try { st = await vscode.workspace.fs.stat(uri); } catch { throw new LoadError(`cannot open ${what} ${uri.toString(true)}: no such file`); }
  if (st.size > MAX_IMAGE) throw new LoadError(`${what} ${uri.toString(true)} is ${st.size} bytes; files larger than 1 GiB are refused`);
  files.set(path, await vscode.workspace.fs.readFile(uri));
}

const webHost: AdapterHost = {
  createTarget(launch) {
    const config = parseLaunchConfig(launch.config);
    const image = files.get(config.program);
    if (image === undefined) throw new LoadError(`image ${config.program} was not read before the launch`);
    return createMachineTarget(image, config, {
      exitStage: launch.exitStage, onConsole: launch.onConsole, log: launch.log,
      openDisk: (disk) => {
        const bytes = files.get(disk.image);
        if (bytes === undefined) throw new LoadError(`virtio-blk: disk image ${disk.image} was not read before the launch`);
        if (disk.writeThrough) throw new LoadError('virtio-blk: writeThrough is not available in the browser; guest writes stay in memory');
        return { bytes: bytes.slice() };
      },
    });
  },
  disassembler: null,
};

export function activate(context: vscode.ExtensionContext): void {
  activateCommon(context, {
    adapterFactory: { createDebugAdapterDescriptor: () => new vscode.DebugAdapterInlineImplementation(createSession(webHost)) },
    async prepareLaunch(config, folder) {
      const base = typeof config.cwd === 'string' ? resolveUri(config.cwd, folder?.uri) : folder?.uri;
      if (typeof config.program === 'string') await load(config.program, base, 'image');
      for (const d of Array.isArray(config.devices) ? config.devices : []) {
        if (typeof d === 'object' && d !== null && (d as { type?: unknown }).type === 'virtio-blk' && typeof (d as { image?: unknown }).image === 'string') await load((d as { image: string }).image, base, 'disk image');
      }
    },
  });
}

export function deactivate(): void {
  files.clear();
}
