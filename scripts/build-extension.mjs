// Builds the VS Code extension into extension/dist/ (Node bundle + iced-x86 wasm, adapter process bundle, browser bundle) and copies the samples into extension/samples/.
import { build } from 'esbuild';
import { copyFileSync, cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const EXT = join(ROOT, 'extension');
const outArg = process.argv.find((a) => a.startsWith('--out='));
/** `--out=DIR` builds elsewhere (tests, so parallel suites never race on extension/dist); `--web-only` builds just the browser bundle. */
const DIST = outArg !== undefined ? resolve(outArg.slice('--out='.length)) : join(EXT, 'dist');
const webOnly = process.argv.includes('--web-only');
const pkg = JSON.parse(readFileSync(join(EXT, 'package.json'), 'utf8'));
const production = process.argv.includes('--production');

rmSync(DIST, { recursive: true, force: true });
mkdirSync(DIST, { recursive: true });

const node = {
  bundle: true, platform: 'node', target: 'node20', format: 'cjs', sourcemap: !production, minify: production,
  logLevel: 'warning', absWorkingDir: ROOT, define: { VMSCOPE_VERSION: JSON.stringify(pkg.version) },
};

// 1. The extension for the Node extension host; `vscode` is provided by the host. iced-x86 is bundled and
//    reads iced_x86_bg.wasm from the bundle's folder (__dirname), so the wasm is copied next to it.
if (!webOnly) {
  await build({ ...node, entryPoints: ['extension/src/extension.ts'], outfile: join(DIST, 'extension.js'), external: ['vscode'] });
  // 2. The same adapter as a program (vmscope.adapter.mode "process"): DAP over stdio or --server=PORT.
  await build({ ...node, entryPoints: ['debug-adapter/main.ts'], outfile: join(DIST, 'adapter.js') });
  copyFileSync(join(ROOT, 'node_modules', 'iced-x86', 'iced_x86_bg.wasm'), join(DIST, 'iced_x86_bg.wasm'));
}

// 3. The browser bundle (VS Code for the Web): the emulator and adapter inline. @vscode/debugadapter's Node-only
//    modules (stream transport, file logger, socket runner) are unused inline and stubbed; `events` gets a small
//    EventEmitter. No disassembler in the browser (iced-x86 reads its wasm with fs).
const SHIMS = {
  events: `class EventEmitter { constructor() { this._l = new Map(); }
    on(e, f) { (this._l.get(e) ?? this._l.set(e, []).get(e)).push(f); return this; }
    addListener(e, f) { return this.on(e, f); }
    once(e, f) { const g = (...a) => { this.off(e, g); f(...a); }; return this.on(e, g); }
    off(e, f) { const l = this._l.get(e); if (l) { const i = l.indexOf(f); if (i >= 0) l.splice(i, 1); } return this; }
    removeListener(e, f) { return this.off(e, f); }
    removeAllListeners(e) { if (e === undefined) this._l.clear(); else this._l.delete(e); return this; }
    emit(e, ...a) { const l = this._l.get(e); if (!l || l.length === 0) return false; for (const f of [...l]) f(...a); return true; } }
    module.exports = { EventEmitter }; module.exports.EventEmitter = EventEmitter;`,
  url: 'module.exports = { URL: globalThis.URL };',
  fs: 'module.exports = {};', path: 'module.exports = { join: (...p) => p.join("/"), dirname: (p) => p.replace(/\\/[^/]*$/, "") };', net: 'module.exports = {};',
};
const shimPlugin = {
  name: 'node-shims',
  setup(b) {
    b.onResolve({ filter: /^(node:)?(events|url|fs|path|net)$/ }, (a) => ({ path: a.path.replace(/^node:/, ''), namespace: 'shim' }));
    b.onLoad({ filter: /.*/, namespace: 'shim' }, (a) => ({ contents: SHIMS[a.path], loader: 'js' }));
  },
};
await build({
  ...node, platform: 'browser', target: 'es2022', format: 'cjs', entryPoints: ['extension/src/web.ts'], outfile: join(DIST, 'web.js'),
  external: ['vscode'], plugins: [shimPlugin],
  define: { ...node.define, 'process.platform': '"browser"', 'process.env.NODE_DEBUG': 'undefined' },
  banner: { js: 'var process = globalThis.process ?? { platform: "browser", env: {}, exit() {} };' },
});

if (webOnly) {
  process.stdout.write(`browser bundle built: ${join(DIST, 'web.js')}\n`);
  process.exit(0);
}

// 4. Samples: every samples/<name>/ with a .vscode/launch.json, copied with an index for "Open Sample…".
const SAMPLES = join(ROOT, 'samples'), OUT = join(EXT, 'samples');
rmSync(OUT, { recursive: true, force: true });
mkdirSync(OUT, { recursive: true });
const index = [];
for (const name of existsSync(SAMPLES) ? readdirSync(SAMPLES).sort() : []) {
  const dir = join(SAMPLES, name);
  if (!statSync(dir).isDirectory() || !existsSync(join(dir, '.vscode', 'launch.json'))) continue;
  cpSync(dir, join(OUT, name), { recursive: true, filter: (src) => !/(\.o|\.tmp)$/.test(src) });
  const readme = existsSync(join(dir, 'README.md')) ? readFileSync(join(dir, 'README.md'), 'utf8') : undefined;
  index.push(describeReadme(name, readme));
}
writeFileSync(join(OUT, 'index.json'), JSON.stringify(index, null, 2) + '\n');

// 5. The marketplace page's license: the project's, when it has one at the root.
if (existsSync(join(ROOT, 'LICENSE'))) copyFileSync(join(ROOT, 'LICENSE'), join(EXT, 'LICENSE'));

process.stdout.write(`extension built: ${DIST} (${readdirSync(DIST).join(', ')}), ${index.length} samples\n`);

/** Same as extension/src/samples.ts describeReadme (kept in step by test/extension/package.test.ts). */
function describeReadme(name, readme) {
  if (readme === undefined) return { name, title: name, description: '' };
  const lines = readme.split(/\r?\n/);
  const head = lines.find((l) => l.startsWith('# '));
  const title = head !== undefined ? head.slice(2).trim() : name;
  const start = head !== undefined ? lines.indexOf(head) + 1 : 0;
  const para = [];
  for (const l of lines.slice(start)) {
    if (l.trim() === '') { if (para.length > 0) break; continue; }
    if (l.startsWith('#') || l.startsWith('|') || l.startsWith('```')) { if (para.length > 0) break; continue; }
    para.push(l.trim());
  }
  const d = para.join(' ');
  return { name, title, description: d.length > 200 ? `${d.slice(0, 199)}…` : d };
}
