// Test runner configuration of the end-to-end suite (code-server + Chromium): `vitest run -c test/e2e/vitest.config.ts`; it sets VMSCOPE_E2E=1, without which the suite skips itself (the root config collects it too).
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    root: new URL('../..', import.meta.url).pathname,
    include: ['test/e2e/**/*.e2e.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 300_000,
    pool: 'forks',
    fileParallelism: false,
    env: { VMSCOPE_E2E: '1' },
  },
});
