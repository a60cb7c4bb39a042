import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { Page } from 'playwright-core';
import { atlasState, cellCenters, fixtureAvailable, fixturesDir, openAppForSuite, screenshot, waitForNewAtlas, waitForSteadyView } from './harness';
import { photosByClass } from './images';

const modelDir = join(fixturesDir, 'models', 'tinyvgg');
const photoDir = join(fixturesDir, 'images', 'tinyimagenet10');
const missing = !fixtureAvailable(join(modelDir, 'model.json')) || !fixtureAvailable(photoDir);

describe(
  'A user-picked model (Tiny VGG) end to end',
  { timeout: 15 * 60_000, skip: missing ? `needs the shared fixtures at ${fixturesDir} (../shared/fixtures), which are absent` : false },
  () => {
    let page: Page;
    openAppForSuite((p) => {
      page = p;
    });

    it('loads model.json with its shard and lists its layers with shapes', async () => {
      await page.waitForFunction(() => window.__atlas && window.__atlas.status !== 'idle');
      await page.locator('[data-testid=model-input]').setInputFiles([join(modelDir, 'model.json'), join(modelDir, 'group1-shard1of1.bin')]);
      const layerSelect = page.locator('[data-testid=layer-select]');
      await layerSelect.locator('option', { hasText: 'conv_2_2' }).waitFor({ state: 'attached', timeout: 60_000 });
      const options = await layerSelect.locator('option').allInnerTexts();
      assert.ok(options.some((o) => /conv_1_1 \[\d+×\d+×10\]/.test(o)), `layers with shapes: ${options.join(' | ')}`);
      await layerSelect.selectOption('conv_2_2');
      await screenshot(page, '10-tinyvgg-loaded');
    });

    it('builds an atlas of the photos, labelled by folder, and inspects a cell', async () => {
      const photos = photosByClass(photoDir);
      const before = await atlasState(page);
      await page.locator('[data-testid=folder-input]').setInputFiles(photos.dir);
      await waitForNewAtlas(page, before);
      const s = await atlasState(page);
      assert.equal(s.inputCount, photos.count);
      assert.ok(s.activationCount >= photos.count);
      assert.ok(s.cellCount > 0);
      assert.equal(await page.locator('[data-testid=error-list] li').count(), 0, await page.locator('[data-testid=error-list]').innerText());
      await screenshot(page, '11-tinyvgg-atlas');

      // The view fits the new atlas with a short transition: click where the cell is once it has settled.
      // Hover first, as a person does: the tooltip says the view picks the cell there, so the click lands on it.
      await waitForSteadyView(page);
      const [cell] = await cellCenters(page);
      await page.mouse.move(cell.x, cell.y);
      await page.locator('.cell-tooltip').waitFor({ timeout: 10_000 });
      await page.mouse.click(cell.x, cell.y);
      const inspector = page.locator('[data-testid=cell-inspector]');
      await inspector.waitFor();
      assert.ok((await inspector.locator('[data-testid=top-input]').count()) >= 1);
      assert.match(await inspector.innerText(), /conv_2_2/);
      const histogram = await inspector.locator('.histogram').first().innerText();
      assert.ok(photos.labels.some((l) => histogram.includes(l)), `folder labels in the inspector: ${histogram}`);
      await inspector.locator('[data-testid=top-input]').first().click();
      await inspector.locator('.enlarged img').waitFor();
      await screenshot(page, '12-tinyvgg-inspector');
    });
  },
);
