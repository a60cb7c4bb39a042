import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { expect } from 'vitest';

export const run = promisify(execFile);
/** The project's root, where the CLI scripts run. */
export const root = new URL('../..', import.meta.url).pathname;

/** Runs a CLI script (e.g. 'src/cli/sae.ts') that must fail: the test fails unless it exits with 1; returns its stderr. */
export async function cliFailure(script: string, args: string[]): Promise<string> {
  const failed = await run('node', ['--import', 'tsx', script, ...args], { cwd: root }).then(
    () => null,
    (e: { stderr: string; code: number }) => e,
  );
  expect(failed?.code).toBe(1);
  return failed!.stderr;
}
