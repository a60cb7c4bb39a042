import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { repoRoot } from './harness';

const run = promisify(execFile);

describe('unexpected page errors fail the e2e test they happen in', { timeout: 180_000 }, () => {
  it('fails the tests of a suite whose page logs a console error or whose worker throws, and passes the clean one', async () => {
    const suite = join(repoRoot, 'tests/e2e/selfTest/pageErrors.ts');
    // Without the variable that tells node:test it runs inside a test file (it would then skip the suite).
    const { NODE_TEST_CONTEXT: _, ...env } = process.env;
    const { code, output } = await run(process.execPath, ['--import', 'tsx', '--test', '--test-reporter=spec', suite], { cwd: repoRoot, env }).then(
      ({ stdout, stderr }) => ({ code: 0, output: stdout + stderr }),
      (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, output: e.stdout + e.stderr }),
    );
    assert.notEqual(code, 0, `the suite passed:\n${output}`);
    assert.match(output, /✔ logs nothing/, output);
    assert.match(output, /✖ logs a console error[\s\S]*unexpected error\(s\) during this test[\s\S]*console\.error: e2e self-test: logged on purpose/, output);
    assert.match(output, /✖ has a worker that throws[\s\S]*pageerror: e2e self-test: thrown in a worker/, output);
    assert.doesNotMatch(output, /console\.error: e2e self-test: not an error/, output);
  });
});
