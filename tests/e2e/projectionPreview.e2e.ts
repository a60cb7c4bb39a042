import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Page } from 'playwright-core';
import { BUILD_TIMEOUT_MS, screenshot, startApp, waitForStatus } from './harness';

describe('the layout settling while it is projected', { timeout: 10 * 60_000 }, () => {
  let app: Awaited<ReturnType<typeof startApp>>;
  let page: Page;

  before(async () => {
    app = await startApp();
    page = app.page;
  });

  after(() => app?.close());

  it('draws intermediate layouts during projection, then hands over to the atlas', async () => {
    // Checked in one page tick: projecting, several layouts received, and the preview canvas on the page.
    await page.waitForFunction(
      () => window.__atlas?.status === 'projecting' && window.__atlas.previewFrames >= 2 && document.querySelector('[data-testid=projection-preview]') !== null,
      null,
      { timeout: BUILD_TIMEOUT_MS, polling: 20 },
    );
    await screenshot(page, '30-projection-settling');
    await waitForStatus(page, 'ready');
    const frames = await page.evaluate(() => window.__atlas!.previewFrames);
    assert.ok(frames >= 2, `previewFrames ${frames}`);
    assert.equal(await page.locator('[data-testid=projection-preview]').count(), 0, 'the preview gives way to the atlas');
    console.log(`intermediate layouts drawn: ${frames}`);
  });
});
