import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Page } from 'playwright-core';
import { openReadyAppForSuite, screenshot, waitForSteadyView } from './harness';

const ICON_TIMEOUT_MS = 300_000;

async function featureVis(page: Page) {
  return page.evaluate(() => window.__atlas!.featureVis);
}

/** Waits until `count` icons of the level on screen are done; reports what the app was doing on a timeout. */
async function waitForIcons(page: Page, count: number): Promise<void> {
  try {
    await page.waitForFunction((n) => (window.__atlas?.featureVis.done ?? 0) >= n, count, { timeout: ICON_TIMEOUT_MS, polling: 200 });
  } catch (e) {
    throw new Error(`${(e as Error).message}\n  feature vis then: ${JSON.stringify(await featureVis(page).catch(() => null))}`);
  }
}

/** Main-thread long tasks (ms) that started after `since` (performance.now() in the page). */
async function longTasksSince(page: Page, since: number): Promise<number[]> {
  return page.evaluate((t0) => {
    const w = window as unknown as { __longTasks: [number, number][] };
    return w.__longTasks.filter(([t]) => t >= t0).map(([, d]) => d);
  }, since);
}

describe('feature-visualisation icons in Chromium', { timeout: 20 * 60_000 }, () => {
  let page: Page;
  openReadyAppForSuite((p) => (page = p));

  it('fills the cells on screen with feature visualisations by default, progressively, without freezing the page', async () => {
    assert.equal(await page.evaluate(() => window.__atlas!.iconMode), 'featureVis', 'feature visualisations are the default');
    // The baseline: dataset exemplars everywhere, one toggle away.
    await page.selectOption('[data-testid=icon-mode]', 'exemplar');
    await page.waitForFunction(() => window.__atlas!.iconMode === 'exemplar');
    const exemplars = await page.locator('.atlas-canvas canvas').screenshot();
    const t0 = await page.evaluate(() => performance.now());
    await page.selectOption('[data-testid=icon-mode]', 'featureVis');
    await waitForIcons(page, 16);
    const first = await featureVis(page);
    assert.equal(first.status, 'running');
    assert.ok(first.total > first.done, `icons arrive progressively: ${JSON.stringify(first)}`);
    await waitForIcons(page, 32);
    // The texture refresh is throttled: wait until the view has uploaded at least those icons.
    await page.waitForFunction(() => window.__atlas!.featureVis.shown >= 32, null, { timeout: 30_000 });
    await screenshot(page, '20-feature-vis-grid-20');
    const withIcons = await page.locator('.atlas-canvas canvas').screenshot();
    assert.notDeepEqual(withIcons, exemplars, 'the atlas looks different once feature visualisations are shown');
    // The page stays responsive: a frame comes back quickly while icons are computed in the worker.
    const frame = await page.evaluate(() => {
      const start = performance.now();
      return new Promise<number>((r) => requestAnimationFrame(() => r(performance.now() - start)));
    });
    assert.ok(frame < 500, `a frame took ${frame.toFixed(0)} ms while icons were computed`);
    const tasks = await longTasksSince(page, t0);
    assert.ok(Math.max(0, ...tasks) < 500, `main-thread long tasks while computing icons: ${tasks.map((t) => t.toFixed(0)).join(', ')} ms`);
    console.log(`feature vis: ${JSON.stringify(await featureVis(page))}, longest main-thread task ${Math.max(0, ...tasks).toFixed(0)} ms, frame ${frame.toFixed(0)} ms`);
  });

  it('serves the finer level the user zooms into', async () => {
    await page.locator('.atlas-canvas').hover();
    await page.keyboard.press('+');
    await page.waitForFunction(() => window.__atlas!.gridSize === 40, null, { timeout: 10_000 });
    const { done: before40, shown } = await featureVis(page);
    await page.waitForFunction((n) => window.__atlas!.featureVis.done >= n + 8, before40, { timeout: ICON_TIMEOUT_MS, polling: 200 });
    await page.waitForFunction((n) => window.__atlas!.featureVis.shown >= n + 8, shown, { timeout: 30_000 });
    await screenshot(page, '21-feature-vis-grid-40');
    const fv = await featureVis(page);
    assert.equal(fv.total > 0 && fv.done > before40, true, JSON.stringify(fv));
  });

  it('shows a cell direction beside its strongest neuron and a random direction, for the cell clicked last', async () => {
    const [a] = await page.evaluate(() => window.__atlas!.cellScreenCenters());
    // Ask for cell A, then at once for cell B: A's answer comes first and must not be shown under B.
    await page.mouse.click(a.x, a.y);
    await page.locator('[data-testid=cell-inspector] h2', { hasText: `Cell (${a.i}, ${a.j})` }).waitFor();
    await page.locator('[data-testid=compare-directions]').click();
    // The inspector narrows the view: find B where the cells are now.
    await waitForSteadyView(page);
    const b = (await page.evaluate(() => window.__atlas!.cellScreenCenters())).find((c) => c.i !== a.i || c.j !== a.j)!;
    await page.mouse.click(b.x, b.y);
    await page.locator('[data-testid=cell-inspector] h2', { hasText: `Cell (${b.i}, ${b.j})` }).waitFor();
    await page.locator('[data-testid=compare-directions]').click();
    const images = page.locator('[data-testid=direction-comparison] img');
    await images.nth(2).waitFor({ timeout: ICON_TIMEOUT_MS });
    const titles = await page.locator('[data-testid=direction-comparison] figcaption').allTextContents();
    assert.match(titles[0], new RegExp(`cell \\(${b.i}, ${b.j}\\) direction`), `the images shown under cell B are B's: ${titles[0]}`);
    assert.match(titles[1], /neuron #\d+/);
    assert.match(titles[2], /random direction/);
    const sources = await images.evaluateAll((els) => els.map((e) => (e as HTMLImageElement).src));
    assert.equal(new Set(sources).size, 3, 'three different images');
    await screenshot(page, '23-direction-neuron-random');
  });

  it('switches back to dataset exemplars: the view redraws its icons', async () => {
    await page.locator('[data-testid=cell-inspector] button[aria-label="Close inspector"]').click();
    await waitForSteadyView(page);
    const { iconVersion } = await page.evaluate(() => ({ iconVersion: window.__atlas!.iconVersion }));
    const withIcons = await page.locator('.atlas-canvas canvas').screenshot();
    await page.selectOption('[data-testid=icon-mode]', 'exemplar');
    await page.waitForFunction((v) => window.__atlas!.iconMode === 'exemplar' && window.__atlas!.iconVersion > v, iconVersion, { timeout: 10_000 });
    await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
    const exemplars = await page.locator('.atlas-canvas canvas').screenshot();
    assert.notDeepEqual(exemplars, withIcons, 'the cells no longer show feature visualisations');
    await screenshot(page, '22-exemplars-again');
  });

  it('recomputes the icons with the quality chosen, and finds the other quality\'s icons in the cache on the way back', async () => {
    // The previous test left the view on dataset exemplars: the same view with no feature visualisation on screen.
    const exemplars = await page.locator('.atlas-canvas canvas').screenshot();
    await page.selectOption('[data-testid=icon-mode]', 'featureVis');
    const standard = await featureVis(page);
    assert.equal(standard.quality, 'standard', 'standard is the default quality');
    const before = await page.locator('.atlas-canvas canvas').screenshot();
    const t0 = await page.evaluate(() => performance.now());
    await page.selectOption('[data-testid=icon-quality]', 'fast');
    // The new recipe's jobs start from nothing on screen (none of its icons is cached yet) and fill the cells again.
    await page.waitForFunction(() => window.__atlas!.featureVis.quality === 'fast' && window.__atlas!.featureVis.done < 12, null, { timeout: 10_000 });
    await waitForIcons(page, 12);
    const fastSeconds = ((await page.evaluate(() => performance.now())) - t0) / 1000;
    await page.waitForFunction(() => window.__atlas!.featureVis.shown >= 12, null, { timeout: 30_000 });
    await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
    await screenshot(page, '24-feature-vis-fast');
    const fast = await page.locator('.atlas-canvas canvas').screenshot();
    assert.notDeepEqual(fast, before, 'the fast icons differ from the standard ones');
    assert.notDeepEqual(fast, exemplars, 'fast icons are on screen: the cells in view were computed first');
    // Back to standard: its icons were cached under keys that carry the recipe, so they come back without a recomputation.
    const t1 = await page.evaluate(() => performance.now());
    await page.selectOption('[data-testid=icon-quality]', 'standard');
    await page.waitForFunction((n) => window.__atlas!.featureVis.quality === 'standard' && window.__atlas!.featureVis.done >= n, standard.done, { timeout: 60_000, polling: 100 });
    const backSeconds = ((await page.evaluate(() => performance.now())) - t1) / 1000;
    console.log(`icon quality: 12 fast icons in ${fastSeconds.toFixed(1)} s; the ${standard.done} standard icons back from the cache in ${backSeconds.toFixed(1)} s`);
  });
});
