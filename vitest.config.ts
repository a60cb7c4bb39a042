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
    // Two cores: tfjs-wasm tests are CPU-bound, so run files one at a time.
    fileParallelism: false,
  },
});
