import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'sdk/test/**/*.test.ts'],
    // 100,000 cycles per binding take minutes and want the cores to themselves: `npm run test:leak`.
    exclude: ['**/node_modules/**', 'test/binding/leak-check.test.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    reporters: ['default', './test/support/summary-reporter.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Test files share one PostgreSQL server but each creates its own database.
    fileParallelism: true,
    maxWorkers: 2,
  },
});
