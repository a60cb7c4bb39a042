/**
 * Temporary folders for tests, removed when the test file is done (vitest: an afterAll hook set by
 * tests/setup.ts; the e2e suites, each its own node:test process: at the process's exit), so that a run
 * of `npm test` leaves nothing behind in the system's temp folder.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const made: string[] = [];

/** A new empty folder under the system's temp folder, its name starting with `prefix`. */
export function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  made.push(dir);
  return dir;
}

/** Removes every folder tempDir made so far. */
export function removeTempDirs(): void {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
}

process.once('exit', removeTempDirs);
