import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    exclude: ['tests/e2e/**', 'node_modules/**'],
    environment: 'node',
    // Removes the temp folders a test file made (tests/tempDir.ts) when the file is done.
    setupFiles: ['tests/setup.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Two files at a time on two cores: many files wait on child processes (the CLIs) or run on one thread, so
    // the unit tests took 358 s against 545 s one file at a time (measured back to back on this machine).
    // No unit test asserts a time.
    fileParallelism: true,
    maxWorkers: 2,
  },
});
