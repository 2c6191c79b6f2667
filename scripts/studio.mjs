// `npm run studio`: vmscope in a real VS Code without installing VS Code — installs code-server, packages the extension, opens a copy of samples/ at http://127.0.0.1:PORT until Ctrl-C.
// Options: --port N (default: a free port), --no-build (reuse dist/vmscope.vsix), --in-place (use samples/ itself, not a copy in .cache/studio/).
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_CACHE, installCodeServer, startCodeServer } from './code-server.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const argv = process.argv.slice(2);
const opt = (name) => { const i = argv.indexOf(name); return i >= 0 ? argv[i + 1] : undefined; };
const port = opt('--port') !== undefined ? Number(opt('--port')) : undefined;
if (port !== undefined && !(Number.isInteger(port) && port > 0 && port < 65536)) {
  console.error(`vmscope studio: --port wants a port number, got ${opt('--port')}`);
  process.exit(2);
}

function step(cmd, args) {
  console.log(`vmscope studio: ${[cmd, ...args].join(' ')}`);
  const r = spawnSync(cmd, args, { cwd: ROOT, stdio: 'inherit' });
  if (r.status !== 0) {
    console.error(`vmscope studio: \`${[cmd, ...args].join(' ')}\` failed (${r.error?.message ?? `exit ${r.status ?? r.signal}`})`);
    process.exit(1);
  }
}

try {
  installCodeServer(DEFAULT_CACHE, { log: (s) => console.log(`vmscope studio: ${s}`) });
} catch (e) {
  console.error(`vmscope studio: ${e instanceof Error ? e.message : e}`);
  process.exit(1);
}

const vsix = join(ROOT, 'dist', 'vmscope.vsix');
if (!argv.includes('--no-build') || !existsSync(vsix)) step('npm', ['run', '--silent', 'package']);

// A copy of the samples, so experiments (edited launch.json, breakpoints, rebuilt images) leave samples/ as committed.
let samples = join(ROOT, 'samples');
if (!argv.includes('--in-place')) {
  samples = join(ROOT, '.cache', 'studio', 'samples');
  if (!existsSync(samples)) {
    mkdirSync(dirname(samples), { recursive: true });
    cpSync(join(ROOT, 'samples'), samples, { recursive: true });
    console.log(`vmscope studio: copied samples/ to ${samples} (delete it for a fresh copy)`);
  }
}
// One workspace folder per sample: each sample's .vscode/launch.json applies only to its own folder, so a
// multi-root workspace puts every sample's configurations in the Run and Debug list at once.
const folders = readdirSync(samples, { withFileTypes: true })
  .filter((d) => d.isDirectory() && existsSync(join(samples, d.name, '.vscode', 'launch.json')))
  .map((d) => ({ name: d.name, path: join(samples, d.name) }))
  .sort((a, b) => a.name.localeCompare(b.name));
// Written beside the copy (not into samples/, which --in-place leaves untouched).
const workspace = join(ROOT, '.cache', 'studio', 'vmscope-samples.code-workspace');
mkdirSync(dirname(workspace), { recursive: true });
writeFileSync(workspace, `${JSON.stringify({ folders, settings: {} }, null, 2)}\n`);

const server = await startCodeServer({ workspace, vsix, port, log: (s) => console.log(`vmscope studio: ${s}`) });
console.log(`\nvmscope studio: open ${server.url}`);
console.log(`vmscope studio: ${folders.length} samples, each with its launch configurations in Run and Debug (pick one, then F5); Ctrl-C stops.\n`);

let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  console.log('\nvmscope studio: stopping code-server');
  await server.stop();
  process.exit(0);
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
// Keep running until a signal (code-server's own exit ends the studio too).
const timer = setInterval(() => {
  try { process.kill(server.pid, 0); } catch { console.error('vmscope studio: code-server exited'); rmSync(server.home, { recursive: true, force: true }); process.exit(1); }
}, 2000);
void timer;
