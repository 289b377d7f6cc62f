import { defineConfig } from 'vitest/config';

// The leak check alone (`npm run test:leak`); the default run (vitest.config.ts) excludes it
// because 100,000 cycles per binding take minutes and want the cores to themselves.
export default defineConfig({
  test: {
    include: ['test/binding/leak-check.test.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    reporters: ['default', './test/support/summary-reporter.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    fileParallelism: false,
  },
});
