// Bundles the command line (and later the debug adapter and extension) into dist/ with esbuild.
import { build } from 'esbuild';
import { readFileSync, mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
mkdirSync('dist', { recursive: true });

const common = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  sourcemap: true,
  logLevel: 'warning',
  define: { VMSCOPE_VERSION: JSON.stringify(pkg.version) },
  external: ['iced-x86'],
};

await build({ ...common, entryPoints: ['cli/main.ts'], outfile: 'dist/cli.js', banner: { js: '#!/usr/bin/env node' } });

// The debug adapter (DAP over stdio, or --server=PORT), CommonJS like the CLI.
await build({ ...common, entryPoints: ['debug-adapter/main.ts'], outfile: 'dist/adapter.js' });

// dist/ holds CommonJS bundles while the project itself is ESM.
import { writeFileSync } from 'node:fs';
writeFileSync('dist/package.json', JSON.stringify({ type: 'commonjs' }) + '\n');

// The benchmark is ESM: it reuses the test guests' build helpers, which locate their sources with import.meta.url.
// The benchmark reuses the test guests' build helpers, which find their sources from import.meta.url: in the
// bundle that is defined as the virtio guests' builder's own location (so both helpers resolve their folders).
await build({
  ...common, format: 'esm', entryPoints: ['bench/main.ts'], outfile: 'dist/bench.mjs',
  define: { ...common.define, 'import.meta.url': JSON.stringify(pathToFileURL(resolve('test/virtio-guests/build.ts')).href) },
  banner: { js: "import { createRequire } from 'node:module'; const require = createRequire('file:///' + process.argv[1]);" },
});
