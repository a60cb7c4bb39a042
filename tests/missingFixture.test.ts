import { afterEach, describe, expect, it, vi } from 'vitest';
import { fixtureAvailable, missingFixtureAction } from './missingFixture';

const absent = () => false;
const present = () => true;

describe('a missing shared fixture', () => {
  afterEach(() => vi.restoreAllMocks());

  it('is skipped on a developer machine and fails in CI', () => {
    expect(missingFixtureAction({})).toBe('skip');
    expect(missingFixtureAction({ CI: '' })).toBe('skip');
    expect(missingFixtureAction({ CI: 'false' })).toBe('skip');
    expect(missingFixtureAction({ CI: '0' })).toBe('skip');
    expect(missingFixtureAction({ CI: 'true' })).toBe('fail');
    expect(missingFixtureAction({ CI: '1' })).toBe('fail');
  });

  it('throws under CI=true, naming the path, where it used to be skipped', () => {
    expect(() => fixtureAvailable('/nowhere/fixtures', { CI: 'true' }, absent)).toThrow(/CI is set and \/nowhere\/fixtures is absent/);
  });

  it('warns and reports absent outside CI, so the tests that need it skip', () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    expect(fixtureAvailable('/nowhere/fixtures', {}, absent)).toBe(false);
    expect(warn).toHaveBeenCalledWith(expect.stringMatching(/^skipped: \/nowhere\/fixtures is absent/));
  });

  it('is simply there when present, in CI or not', () => {
    expect(fixtureAvailable('/here', { CI: 'true' }, present)).toBe(true);
    expect(fixtureAvailable('/here', {}, present)).toBe(true);
  });
});
