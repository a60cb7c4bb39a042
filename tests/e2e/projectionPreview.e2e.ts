import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Page } from 'playwright-core';
import { atlasState, BUILD_TIMEOUT_MS, openAppForSuite, screenshot, waitForNewAtlas, waitForStatus } from './harness';

describe('the layout settling while it is projected', { timeout: 10 * 60_000 }, () => {
  let page: Page;
  openAppForSuite((p) => {
    page = p;
  });

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

  it('projects with t-SNE in the page (WebAssembly SIMD kernels in the compute worker)', async () => {
    const before = await atlasState(page);
    await page.locator('[data-testid=method-select]').selectOption('tsne');
    // One pooled vector per image: 3,000 points, the size where t-SNE takes the exact SIMD repulsion.
    await page.locator('[data-testid=samples-select]').selectOption('pooled');
    const started = Date.now();
    await page.locator('[data-testid=run-button]').click();
    await waitForNewAtlas(page, before);
    const seconds = (Date.now() - started) / 1000;
    const state = await page.evaluate(() => ({
      method: window.__atlas!.projectionMethod,
      frames: window.__atlas!.previewFrames,
      points: window.__atlas!.activationCount,
      cells: window.__atlas!.cellCount,
    }));
    assert.equal(state.method, 'tsne');
    assert.ok(state.frames >= 2, `previewFrames ${state.frames}`);
    assert.equal(state.points, 3000);
    assert.ok(state.cells > 20, `cells ${state.cells}`);
    await screenshot(page, '31-tsne-atlas');
    console.log(`t-SNE atlas of ${state.points} activations: ${seconds.toFixed(1)} s from Run to ready (recording included), ${state.cells} cells`);
  });
});
