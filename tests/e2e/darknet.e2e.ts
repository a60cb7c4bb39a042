import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { Page } from 'playwright-core';
import { DARKNET_LAYER, darknetStyleModel } from './darknetModel';
import { atlasState, openAppForSuite, screenshot, waitForNewAtlas } from './harness';
import { labelledFolder } from './images';

/** Stated bounds on this 2-core machine (wasm): the first icons after the atlas is ready, and a folder concept learnt while icons run. */
const FIRST_ICONS_WITHIN_MS = 150_000;
const CONCEPT_WITHIN_MS = 90_000;

describe('A darknet-style model (batch norm, LeakyReLU, max pooling) does not hang the page', { timeout: 15 * 60_000 }, () => {
  let page: Page;
  openAppForSuite((p) => {
    page = p;
  });

  it('loads the model, builds an atlas of its LeakyReLU layer, and feature visualisations arrive', async () => {
    await page.waitForFunction(() => window.__atlas && window.__atlas.status !== 'idle');
    await page.locator('[data-testid=model-input]').setInputFiles(await darknetStyleModel());
    const layerSelect = page.locator('[data-testid=layer-select]');
    await layerSelect.locator('option', { hasText: DARKNET_LAYER }).waitFor({ state: 'attached', timeout: 60_000 });
    await layerSelect.selectOption(DARKNET_LAYER);
    const images = await labelledFolder(30);
    const before = await atlasState(page);
    await page.locator('[data-testid=folder-input]').setInputFiles(images.dir);
    await waitForNewAtlas(page, before);
    const ready = Date.now();
    assert.equal((await atlasState(page)).inputCount, images.count);
    await page.waitForFunction(() => window.__atlas!.featureVis.shown > 0 || window.__atlas!.featureVis.status === 'error', null, { timeout: FIRST_ICONS_WITHIN_MS, polling: 200 });
    const fv = await page.evaluate(() => window.__atlas!.featureVis);
    assert.notEqual(fv.status, 'error', await page.locator('[data-testid=featurevis-info]').innerText().catch(() => ''));
    console.log(`darknet-style model: first feature visualisations on screen ${((Date.now() - ready) / 1000).toFixed(1)} s after ready (bound ${FIRST_ICONS_WITHIN_MS / 1000} s); ${fv.done}/${fv.total} of the level`);
    await screenshot(page, '40-darknet-icons');
  });

  it('learns a concept from a folder while icons are computed: the concept goes first', async () => {
    const circles = join((await labelledFolder(18)).dir, 'circles');
    await page.locator('[data-testid=concept-panel] summary').click();
    await page.locator('[data-testid=concept-folder]').setInputFiles(circles);
    await page.locator('[data-testid=concept-name]').fill('circles');
    const started = Date.now();
    // Icons still being computed: the concept must not wait for all of them.
    const iconsBusy = await page.evaluate(() => window.__atlas!.featureVis.status === 'running');
    await page.locator('[data-testid=concept-from-folder]').click();
    const handle = await page.waitForFunction(
      () => {
        const t = window.__atlas!.directionsTask;
        return t === null ? { ok: true } : t.status === 'error' ? { ok: false, message: t.message } : false;
      },
      null,
      { timeout: CONCEPT_WITHIN_MS, polling: 100 },
    );
    const result = (await handle.jsonValue()) as { ok: boolean; message?: string };
    assert.ok(result.ok, result.message);
    const took = Date.now() - started;
    const concept = (await page.evaluate(() => window.__atlas!.concepts)).at(-1)!;
    assert.equal(concept.name, 'circles');
    assert.equal(concept.positives, 18 * 4);
    console.log(`darknet-style model: folder concept (18 images at 4 positions) learnt in ${(took / 1000).toFixed(1)} s (bound ${CONCEPT_WITHIN_MS / 1000} s) while icons ${iconsBusy ? 'were' : 'were not'} running`);
    await screenshot(page, '41-darknet-concept');
  });
});
