// Bundles the command line (and later the debug adapter and extension) into dist/ with esbuild.
import { build } from 'esbuild';
import { readFileSync, mkdirSync } from 'node:fs';

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

// dist/ holds CommonJS bundles while the project itself is ESM.
import { writeFileSync } from 'node:fs';
writeFileSync('dist/package.json', JSON.stringify({ type: 'commonjs' }) + '\n');

await build({ ...common, entryPoints: ['bench/main.ts'], outfile: 'dist/bench.js' });
