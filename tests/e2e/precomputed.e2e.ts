import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parquetReadObjects } from 'hyparquet';
import type { Page } from 'playwright-core';
import sharp from 'sharp';
import { npyFloat32 } from '../../src/export/npy';
import { writePointsJsonl, writePointsTableParquet } from '../../src/export/pointsTable';
import { clusteredRows, CLUSTERS } from '../export/clusters';
import { atlasState, cellCenters, openReadyAppForSuite, outputDir, screenshot, waitForNewAtlas, waitForSteadyView } from './harness';
import { tempDir } from '../tempDir';

const ROWS = 600;
const DIM = 16;
/** Where the reviewers look for the screenshot, besides test-output/e2e/. */
const SHOT_COPY = process.env.PRECOMPUTED_SHOT ?? '/tmp/i16/precomputed.png';

/** acts.npy (600 x 16 float32, 3 separated clusters) and points.parquet (label and text per row), as a user would have them. */
function precomputedFiles() {
  const dir = tempDir('atlas-e2e-precomputed-');
  const { values, label, text } = clusteredRows(ROWS, DIM, 5);
  const npy = join(dir, 'acts.npy');
  writeFileSync(npy, npyFloat32(values, [ROWS, DIM]));
  const parquet = join(dir, 'points.parquet');
  writeFileSync(parquet, new Uint8Array(writePointsTableParquet({ label, text })));
  const short = join(dir, 'short.parquet');
  writeFileSync(short, new Uint8Array(writePointsTableParquet({ label: label.slice(0, ROWS - 1) })));
  return { dir, npy, parquet, short, label, text };
}

describe('precomputed activations: an .npy and its points table, without a model', { timeout: 10 * 60_000 }, () => {
  let page: Page;
  openReadyAppForSuite((p) => (page = p));
  const files = precomputedFiles();

  it('builds an atlas from acts.npy + points.parquet: one point per row, the labels of the table', async () => {
    const before = await atlasState(page);
    await page.locator('[data-testid=activations-input]').setInputFiles([files.npy, files.parquet]);
    await waitForNewAtlas(page, before);
    const s = await atlasState(page);
    assert.equal(await page.evaluate(() => window.__atlas!.modality), 'precomputed');
    assert.equal(s.inputCount, ROWS);
    assert.equal(s.activationCount, ROWS);
    assert.ok(s.cellCount >= 3, `cells: ${s.cellCount}`);
    await page.locator('[data-testid=input-summary]', { hasText: `${ROWS} rows, labels: cities, kitchens, whales` }).waitFor({ timeout: 10_000 });
    await waitForSteadyView(page);
  });

  it("shows a cell's rows with their labels and texts, one cluster per cell; the model's tools say there is no model", async () => {
    const centers = await cellCenters(page);
    await page.mouse.click(centers[0].x, centers[0].y);
    const inspector = page.locator('[data-testid=cell-inspector]');
    await inspector.waitFor();
    const rows = inspector.locator('[data-testid=top-input] [data-testid=precomputed-row]');
    assert.ok((await rows.count()) >= 1, 'the cell lists its top rows');
    const labels = await rows.locator('[data-testid=row-label]').allInnerTexts();
    const texts = await rows.locator('[data-testid=row-text]').allInnerTexts();
    assert.equal(labels.length, await rows.count(), 'every row shows its label');
    assert.equal(new Set(labels).size, 1, `one cluster per cell: ${labels.join(', ')}`);
    const cluster = CLUSTERS.find((c) => c.label === labels[0]);
    assert.ok(cluster, `a label of the table: ${labels[0]}`);
    assert.ok(texts.every((t) => t.startsWith(cluster.text)), `each row shows its own text: ${texts.slice(0, 3).join(' | ')}`);
    // The texts are the rows' own, by the row index in the table.
    const row = Number(/\(row (\d+)\)/.exec(texts[0])![1]);
    assert.equal(files.label[row], labels[0]);
    assert.match(await page.locator('[data-testid=without-model]').innerText(), /without a model/);
    assert.equal(await page.locator('[data-testid=poly-run]').isDisabled(), true);
    const path = await screenshot(page, '60-precomputed-atlas');
    mkdirSync(join(SHOT_COPY, '..'), { recursive: true });
    copyFileSync(path, SHOT_COPY);
    // The neuron view needs no model: the cell's strongest unit lists its top rows.
    await inspector.locator('[data-testid=strongest-channel]').first().click();
    await inspector.locator('[data-testid=neuron-view] [data-testid=precomputed-row]').first().waitFor({ timeout: 30_000 });
    await inspector.locator('button[aria-label="Close inspector"]').click();
  });

  it('exports the points as Parquet that reads back with one row per point, its label and text', async () => {
    const [download] = await Promise.all([page.waitForEvent('download'), page.locator('[data-testid=export-points]').click()]);
    const path = join(outputDir, 'precomputed-points.parquet');
    await download.saveAs(path);
    const bytes = readFileSync(path);
    const rows = await parquetReadObjects({ file: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) });
    assert.equal(rows.length, ROWS);
    assert.deepEqual(Object.keys(rows[0]), ['x', 'y', 'cell', 'input', 'position', 'label', 'text']);
    for (const r of rows) {
      const input = r.input as number;
      assert.equal(r.label, files.label[input]);
      assert.equal(r.text, files.text[input]);
      assert.equal(r.position, -1);
      assert.match(String(r.cell), /^\d+,\d+$/);
    }
  });

  it('shows rows with images as pictures: a JSONL table with a data-URL image per row', async () => {
    const colours = [
      { r: 30, g: 90, b: 220 },
      { r: 200, g: 60, b: 40 },
      { r: 240, g: 200, b: 60 },
    ];
    const urls = await Promise.all(
      colours.map(async (background) => `data:image/png;base64,${(await sharp({ create: { width: 28, height: 28, channels: 3, background } }).png().toBuffer()).toString('base64')}`),
    );
    const jsonl = join(files.dir, 'pictures.jsonl');
    writeFileSync(jsonl, writePointsJsonl(files.label.map((label, k) => ({ label, text: files.text[k], image: urls[k % 3] }))));
    const before = await atlasState(page);
    await page.locator('[data-testid=activations-input]').setInputFiles([files.npy, jsonl]);
    await waitForNewAtlas(page, before);
    await waitForSteadyView(page);
    const [cell] = await cellCenters(page);
    await page.mouse.click(cell.x, cell.y);
    const images = page.locator('[data-testid=cell-inspector] [data-testid=top-input] [data-testid=precomputed-row] img');
    await images.first().waitFor();
    assert.match((await images.first().getAttribute('src')) ?? '', /^data:image\/png;base64,/);
    const path = await screenshot(page, '61-precomputed-images');
    copyFileSync(path, SHOT_COPY.replace(/\.png$/, '-images.png'));
    await page.locator('[data-testid=cell-inspector] button[aria-label="Close inspector"]').click();
  });

  it('refuses a points table of another row count, saying what it expected, and keeps the atlas', async () => {
    const before = await atlasState(page);
    await page.locator('[data-testid=activations-input]').setInputFiles([files.npy, files.short]);
    await page.locator('[data-testid=error-list] li', { hasText: /short\.parquet/ }).waitFor({ timeout: 60_000 });
    assert.match(await page.locator('[data-testid=error-list]').innerText(), /short\.parquet has 599 rows, but acts\.npy has 600: expected one row of the points table per activation row/);
    assert.equal((await atlasState(page)).atlasVersion, before.atlasVersion, 'the atlas stays');
  });
});
