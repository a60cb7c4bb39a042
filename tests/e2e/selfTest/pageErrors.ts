/**
 * A suite whose page logs errors on purpose, run by consoleErrors.e2e.ts in a child test runner: its second
 * and third tests must fail through the harness alone, its first must pass.
 */
import { describe, it } from 'node:test';
import type { Page } from 'playwright-core';
import { openAppForSuite } from '../harness';

describe('a page that logs errors', () => {
  let page: Page;
  openAppForSuite((p) => {
    page = p;
  });

  it('logs nothing', async () => {
    await page.evaluate(() => console.log('e2e self-test: not an error'));
  });

  it('logs a console error', async () => {
    await page.evaluate(() => console.error('e2e self-test: logged on purpose'));
  });

  it('has a worker that throws', async () => {
    const thrown = page.waitForEvent('pageerror');
    await page.evaluate(() => {
      const source = 'throw new Error("e2e self-test: thrown in a worker")';
      new Worker(URL.createObjectURL(new Blob([source], { type: 'text/javascript' })));
    });
    await thrown;
  });
});
