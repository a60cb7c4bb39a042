import { existsSync } from 'node:fs';

type Env = Record<string, string | undefined>;

/** Whether `CI` is set to something true (CI services set CI=true); 0, false or empty do not count. */
const inCi = (env: Env) => !!env.CI && !/^(0|false)$/i.test(env.CI);

/**
 * What a test does when a fixture it needs is absent: skip on a developer's machine, fail in CI, where a
 * skipped test would look like a passing one.
 */
export function missingFixtureAction(env: Env): 'skip' | 'fail' {
  return inCi(env) ? 'fail' : 'skip';
}

/**
 * Whether the fixture at `path` is there. When it is not, warns that the tests needing it are skipped, or
 * throws under CI so that the test file fails instead.
 */
export function fixtureAvailable(path: string, env: Env = process.env, exists: (path: string) => boolean = existsSync): boolean {
  if (exists(path)) return true;
  const message = `${path} is absent (the shared fixtures, ../shared/fixtures)`;
  if (missingFixtureAction(env) === 'fail') throw new Error(`CI is set and ${message}: the tests that need it cannot run.`);
  console.warn(`skipped: ${message}`);
  return false;
}
