import assert from 'node:assert/strict';
import { statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import type { Page } from 'playwright-core';
import sharp from 'sharp';
import { serializeAtlas } from '../../src/export/atlasFile';
import { atlasState, openReadyAppForSuite, screenshot, waitForNewAtlas, waitForSteadyView } from './harness';
import { mixtureAtlas } from './millionAtlas';
import { tempDir } from '../tempDir';

const POINTS = Number(process.env.E2E_MILLION_POINTS ?? 1_000_000);
/**
 * No task on the page's main thread longer than this while the file opens. The goal is 200 ms (issue 17), and the
 * test prints the longest task against it. It was 2,863 ms before the file opened off the main thread, then 262-270 ms
 * (in a trace) while each grid level's icons went into one canvas of up to 4096 pixels, whose first draw allocated
 * 64 MB in one call; they now go into tiles of at most 1024 pixels, each allocated in its own slice, and the labels
 * (their font atlas) come a frame after the icons. What is left is the first frame (deck.gl's layers and texture
 * uploads, then the compositor waiting on SwiftShader): 88 and 95 ms in this suite, 91-182 ms under a CPU profiler.
 * The test holds 250 ms, a margin for busier cores, and prints the longest task against the goal.
 */
const LONG_TASK_MS = 250;
const LONG_TASK_GOAL_MS = 200;
/**
 * A lasso's selection (the point index's answer and the store's update) must fit in this: RAIL's bound for handling
 * an input, so that with a GPU's frame on top the selection shows within 100 ms. Software GL's redraw of the canvas
 * here (100-200 ms, with or without the points) comes on top; it is reported, not bounded.
 */
const LASSO_BUDGET_MS = 50;

/** The share of pixels (0 to 1) whose colour differs by more than 24 on some channel between two PNGs of the same size. */
async function changedShare(a: Buffer, b: Buffer): Promise<number> {
  const [x, y] = await Promise.all([a, b].map((png) => sharp(png).removeAlpha().raw().toBuffer()));
  let changed = 0;
  for (let k = 0; k < x.length; k += 3) if (Math.abs(x[k] - y[k]) > 24 || Math.abs(x[k + 1] - y[k + 1]) > 24 || Math.abs(x[k + 2] - y[k + 2]) > 24) changed++;
  return changed / (x.length / 3);
}

/** The page's long tasks (PerformanceObserver 'longtask', installed before load by openApp) that started at or after `since`. */
async function longTasksSince(page: Page, since: number): Promise<[number, number][]> {
  return page.evaluate((t0) => (window as unknown as { __longTasks: [number, number][] }).__longTasks.filter(([t]) => t >= t0), since);
}

describe(`An atlas file of ${POINTS.toLocaleString('en')} points`, { timeout: 5 * 60_000 }, () => {
  let page: Page;
  let file = '';
  before(() => {
    const started = performance.now();
    file = join(tempDir('atlas-e2e-million-'), 'million.json');
    writeFileSync(file, serializeAtlas(mixtureAtlas(POINTS)));
    console.log(`wrote a ${(statSync(file).size / 1e6).toFixed(1)} MB version-3 atlas of ${POINTS} points in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  });
  openReadyAppForSuite((p) => (page = p));

  it(`opens through the file input without a main-thread task over ${LONG_TASK_MS} ms`, async () => {
    const state = await atlasState(page);
    const since = await page.evaluate(() => performance.now());
    await page.locator('[data-testid=atlas-input]').setInputFiles(file);
    await waitForNewAtlas(page, state, 120_000);
    const opened = await page.evaluate(() => performance.now());
    await waitForSteadyView(page, 60_000);
    const s = await atlasState(page);
    assert.equal(s.activationCount, POINTS);
    assert.equal(s.inputCount, POINTS);
    const tasks = await longTasksSince(page, since);
    const longest = Math.max(0, ...tasks.map(([, d]) => d));
    console.log(
      `opened in ${((opened - since) / 1000).toFixed(2)} s (file input to ready); long tasks meanwhile: ${tasks.length}, ` +
        `longest ${longest.toFixed(0)} ms (${tasks.map(([, d]) => d.toFixed(0)).join(', ') || 'none'}); goal ${LONG_TASK_GOAL_MS} ms: ${longest <= LONG_TASK_GOAL_MS ? 'met' : 'missed'}`,
    );
    assert.ok(longest <= LONG_TASK_MS, `a main-thread task took ${longest.toFixed(0)} ms while the file opened`);
  });

  it('draws the points as a density image at the fitted zoom, and as points once zoomed in; hovering shows the cell', async () => {
    const canvas = page.locator('[data-testid=atlas-view] canvas').first();
    const without = await canvas.screenshot();
    await page.locator('[data-testid=points-toggle]').check();
    await waitForSteadyView(page);
    const density = await canvas.screenshot();
    await screenshot(page, '70-million-density');
    // The density image covers the layout: most of the atlas's pixels change colour.
    const covered = await changedShare(without, density);
    console.log(`points on at the fitted zoom: ${(100 * covered).toFixed(0)}% of the canvas changed`);
    assert.ok(covered > 0.3, `the density image changed ${(100 * covered).toFixed(0)}% of the canvas`);
    const box = (await canvas.boundingBox())!;
    const since = await page.evaluate(() => performance.now());
    for (let k = 0; k < 12; k++) await page.mouse.move(box.x + box.width * (0.2 + 0.05 * k), box.y + box.height * (0.3 + 0.03 * k));
    // The cell under the pointer shows its tooltip: the hover was handled.
    await page.getByRole('tooltip').waitFor({ timeout: 10_000 });
    // Reported, not bounded: each hover redraws the canvas, which software GL takes 100-150 ms for here with or without
    // the points, and the first hover costs deck.gl's picking buffer (about 600 ms, also without the points).
    const hovering = (await longTasksSince(page, since)).map(([, d]) => d.toFixed(0));
    console.log(`hovering 12 positions: long tasks ${hovering.join(', ') || 'none'} ms`);
    // Zooming in to the 160-cell grid, its icons alone (reported): the finer levels' icon tiles are drawn and uploaded.
    await page.locator('[data-testid=points-toggle]').uncheck();
    await waitForSteadyView(page);
    const zoomStart = await page.evaluate(() => performance.now());
    for (let k = 0; k < 3; k++) await page.locator('button[aria-label="Zoom in"]').click();
    await waitForSteadyView(page);
    const zooming = (await longTasksSince(page, zoomStart)).map(([, d]) => d.toFixed(0));
    console.log(`zooming in 3 steps to grid ${await page.evaluate(() => window.__atlas!.gridSize)}, icons only: long tasks ${zooming.join(', ') || 'none'} ms`);
    const pointsStart = await page.evaluate(() => performance.now());
    await page.locator('[data-testid=points-toggle]').check();
    await waitForSteadyView(page);
    const drawing = (await longTasksSince(page, pointsStart)).map(([, d]) => d.toFixed(0));
    console.log(`then the points on, zoomed in: long tasks ${drawing.join(', ') || 'none'} ms`);
    await screenshot(page, '71-million-zoomed');
    await page.locator('button[title="Fit the whole atlas (0)"]').click();
    await waitForSteadyView(page);
  });

  it(`selects with a lasso within ${LASSO_BUDGET_MS} ms`, async () => {
    await page.locator('[data-testid=select-tool]').selectOption('lasso');
    const box = (await page.locator('[data-testid=atlas-view] canvas').boundingBox())!;
    const [cx, cy] = [box.x + box.width / 2, box.y + box.height / 2];
    const r = Math.min(box.width, box.height) * 0.3;
    const path = Array.from({ length: 40 }, (_, k) => {
      const a = (2 * Math.PI * k) / 40;
      const wobble = 1 + 0.25 * Math.sin(3 * a);
      return [cx + r * wobble * Math.cos(a), cy + r * wobble * Math.sin(a)] as const;
    });
    // Two lassos along the same path: the first runs cold (the index query's code not yet optimised), the second is
    // the steady state a user gets from then on; both are reported, the second is held to the budget.
    const lasso = async () => {
      const before = await page.evaluate(() => performance.getEntriesByName('atlas-lasso').length);
      await page.mouse.move(path[0][0], path[0][1]);
      await page.mouse.down();
      for (const [x, y] of path.slice(1)) await page.mouse.move(x, y);
      const since = await page.evaluate(() => performance.now());
      await page.mouse.up();
      await page.waitForFunction((n) => performance.getEntriesByName('atlas-lasso').length > n, before, { timeout: 30_000 });
      // The frame after the selection: its layers (the selection's density image) are built and drawn.
      await page.evaluate(() => new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve))));
      const measured = await page.evaluate(() => {
        const m = performance.getEntriesByName('atlas-lasso').pop() as PerformanceMeasure;
        return { duration: m.duration, hits: m.detail as number, selected: window.__atlas!.selectionCount };
      });
      return { ...measured, tasks: await longTasksSince(page, since) };
    };
    const cold = await lasso();
    const { duration, hits, selected, tasks } = await lasso();
    // The frames that draw the selection are reported beside it: software GL's redraw, not the lasso's work.
    console.log(
      `lasso: ${hits} points selected in ${duration.toFixed(1)} ms (the first, cold: ${cold.duration.toFixed(1)} ms); ` +
        `long tasks after the mouse-up: ${tasks.map(([, d]) => d.toFixed(0)).join(', ') || 'none'}`,
    );
    assert.equal(cold.hits, hits);
    assert.equal(selected, hits);
    assert.ok(hits > POINTS / 20, `the lasso over the middle of the layout took ${hits} points`);
    assert.ok(duration <= LASSO_BUDGET_MS, `the lasso's selection took ${duration.toFixed(1)} ms`);
    await screenshot(page, '72-million-lasso');
    await page.locator('[data-testid=select-tool]').selectOption('pan');
  });
});
