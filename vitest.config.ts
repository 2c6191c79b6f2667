// Test runner configuration: every suite under test/, generous timeouts for conformance runs.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The end-to-end suite in a real VS Code has its own command (npm run test:e2e) and configuration; test/.tmp holds
    // build output and throwaway measurement scripts (git-ignored), never tests.
    exclude: ['test/e2e/**', 'test/.tmp/**', 'node_modules/**'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // Debug checks the production build leaves off (test/setup.ts).
    setupFiles: ['test/setup.ts'],
  },
});
