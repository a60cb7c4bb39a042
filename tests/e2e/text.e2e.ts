import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Page } from 'playwright-core';
import { checkpointTensors, randomCheckpoint, writeSafetensors } from '../model/text/checkpoints';
import { atlasState, cellCenters, openReadyAppForSuite, outputDir, screenshot, waitForNewAtlas, waitForSteadyView } from './harness';
import { tempDir } from '../tempDir';

const PASTED = [
  'Call me Ishmael. Some years ago, never mind how long precisely, having little or no money in my purse, I thought I would sail about a little and see the watery part of the world.',
  'It is a way I have of driving off the spleen and regulating the circulation. Whenever I find myself growing grim about the mouth, I account it high time to get to sea as soon as I can.',
  'The whale rose slowly from the deep, and the sea around the ship was white with foam. The harpooneers stood ready in the boats, and the mate called out the bearings.',
  'There now is your insular city of the Manhattoes, belted round by wharves as Indian isles by coral reefs; commerce surrounds it with her surf.',
  'Circumambulate the city of a dreamy Sabbath afternoon. Go from Corlears Hook to Coenties Slip, and from thence, by Whitehall, northward. What do you see?',
].join('\n\n');

/** A seeded random GPT-2 (2 layers, 16-d, the GPT-2 vocabulary) as the Hugging Face files a user would pick. */
function randomGpt2Folder(): { dir: string; files: string[] } {
  const dir = join(tempDir('atlas-e2e-gpt2-'), 'tiny-gpt2');
  mkdirSync(dir);
  const configJson = { model_type: 'gpt2' as const, n_embd: 16, n_layer: 2, n_head: 2, n_positions: 64, vocab_size: 50257 };
  const checkpoint = randomCheckpoint(configJson, { seed: 11, dtype: 'F16', untiedHead: false });
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...configJson, activation_function: 'gelu_new', layer_norm_epsilon: 1e-5 }));
  writeFileSync(join(dir, 'model.safetensors'), writeSafetensors(checkpointTensors(checkpoint, { prefix: true })));
  return { dir, files: [join(dir, 'config.json'), join(dir, 'model.safetensors')] };
}

/** Serves a folder as a mirror of the hub's `<id>/resolve/main/<file>` paths on a free local port. */
async function hubMirror(id: string, dir: string): Promise<{ baseUrl: string; requests: string[]; server: Server }> {
  const requests: string[] = [];
  const server = createServer((req, res) => {
    requests.push(req.url ?? '');
    const prefix = `/${id}/resolve/main/`;
    const file = req.url?.startsWith(prefix) ? req.url.slice(prefix.length) : null;
    let body: Buffer | null = null;
    try {
      if (file && !file.includes('/')) body = readFileSync(join(dir, file));
    } catch {
      body = null;
    }
    // The page is cross-origin isolated: a mirror must allow the fetch (CORS) like the hub does.
    res.setHeader('Access-Control-Allow-Origin', '*');
    if (!body) {
      res.writeHead(404).end('not found');
      return;
    }
    res.writeHead(200, { 'Content-Length': body.length, 'Content-Type': 'application/octet-stream' }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return { baseUrl: `http://127.0.0.1:${port}`, requests, server };
}

describe('text: the built-in GPT-2, token atlases, contexts', { timeout: 20 * 60_000 }, () => {
  let page: Page;
  openReadyAppForSuite((p) => (page = p));
  const tiny = randomGpt2Folder();
  let mirror: Awaited<ReturnType<typeof hubMirror>> | null = null;
  before(async () => {
    mirror = await hubMirror('tester/tiny-gpt2', tiny.dir);
  });
  after(() => mirror?.server.close());

  it('builds a token atlas of pasted text with the built-in text model', async () => {
    const before = await atlasState(page);
    await page.locator('[data-testid=text-paste]').fill(PASTED);
    await page.locator('[data-testid=text-run]').click();
    await waitForNewAtlas(page, before);
    const s = await atlasState(page);
    assert.equal(await page.evaluate(() => window.__atlas!.modality), 'text');
    assert.equal(s.inputCount, 5, 'one document per paragraph');
    assert.ok(s.activationCount > 100, `every token but <|endoftext|> is a point: ${s.activationCount}`);
    assert.ok(s.cellCount > 10, `cells: ${s.cellCount}`);
    await waitForSteadyView(page);
    await screenshot(page, '40-text-atlas-pasted');
  });

  it('opens a cell: its top contexts mark the recorded token, shaded by the cell direction; its output tokens', async () => {
    const [cell] = await cellCenters(page);
    await page.mouse.click(cell.x, cell.y);
    const inspector = page.locator('[data-testid=cell-inspector]');
    await inspector.waitFor();
    const contexts = inspector.locator('[data-testid=top-context]');
    assert.ok((await contexts.count()) >= 1, 'the cell lists contexts');
    const marked = await contexts.evaluateAll((els) => els.map((e) => e.querySelectorAll('[data-testid=context-token]').length));
    assert.ok(marked.every((n) => n === 1), `each context marks exactly its recorded token: ${marked.join(',')}`);
    await inspector.locator('[data-testid=promoted-tokens] span').first().waitFor({ timeout: 60_000 });
    assert.equal(await inspector.locator('[data-testid=promoted-tokens] span').count(), 12);
    assert.equal(await inspector.locator('[data-testid=suppressed-tokens] span').count(), 12);
    // Shading arrives from the model worker: some token of the first context is tinted.
    await page.waitForFunction(() => [...document.querySelectorAll('[data-testid=top-context] .token')].some((t) => (t as HTMLElement).style.background !== ''), null, {
      timeout: 60_000,
    });
    await screenshot(page, '41-text-cell-contexts');
  });

  it("shows a neuron's top contexts, histogram and output tokens from the cell's strongest neuron", async () => {
    const inspector = page.locator('[data-testid=cell-inspector]');
    await inspector.locator('[data-testid=strongest-channel]').first().click();
    const view = inspector.locator('[data-testid=neuron-view]');
    await view.locator('[data-testid=neuron-top] [data-testid=context-token]').first().waitFor({ timeout: 60_000 });
    assert.ok((await view.locator('[data-testid=neuron-histogram] span').count()) > 5);
    await view.locator('[data-testid=promoted-tokens] span').first().waitFor({ timeout: 60_000 });
    await view.scrollIntoViewIfNeeded();
    await screenshot(page, '42-text-neuron-view');
    await inspector.locator('button[aria-label="Close inspector"]').click();
  });

  it('builds from dropped text files; a binary file among them is listed, the rest go through', async () => {
    const dir = tempDir('atlas-e2e-texts-');
    const txt = join(dir, 'whales.txt');
    writeFileSync(txt, PASTED.split('\n\n').slice(0, 3).join('\n\n'));
    const jsonl = join(dir, 'lines.jsonl');
    writeFileSync(jsonl, [JSON.stringify({ text: 'The ship sailed at dawn.', label: 'sea' }), JSON.stringify({ text: 'The town slept under snow.', label: 'land' })].join('\n'));
    const binary = join(dir, 'blob.txt');
    writeFileSync(binary, Buffer.from(Array.from({ length: 400 }, (_, k) => (k * 37) % 256)));
    const before = await atlasState(page);
    await page.locator('[data-testid=text-input]').setInputFiles([txt, jsonl, binary]);
    await waitForNewAtlas(page, before);
    assert.equal((await atlasState(page)).inputCount, 5, '3 paragraphs and 2 lines');
    assert.match(await page.locator('[data-testid=error-list]').innerText(), /blob\.txt/);
  });

  it('builds from text files dropped on the page', async () => {
    const before = await atlasState(page);
    await page.evaluate((paragraphs) => {
      const dataTransfer = new DataTransfer();
      dataTransfer.items.add(new File([paragraphs.slice(0, 2).join('\n\n')], 'sea.txt', { type: 'text/plain' }));
      dataTransfer.items.add(new File([paragraphs.slice(2).join('\n\n')], 'land.txt', { type: 'text/plain' }));
      const target = document.querySelector('[data-testid=atlas-view]')!;
      target.dispatchEvent(new DragEvent('dragover', { dataTransfer, bubbles: true, cancelable: true }));
      target.dispatchEvent(new DragEvent('drop', { dataTransfer, bubbles: true, cancelable: true }));
    }, PASTED.split('\n\n'));
    await waitForNewAtlas(page, before);
    assert.equal((await atlasState(page)).inputCount, 5);
    assert.equal(await page.evaluate(() => window.__atlas!.modality), 'text');
  });

  it('exports the text atlas as JSON and reopens it', async () => {
    const before = await atlasState(page);
    const [download] = await Promise.all([page.waitForEvent('download'), page.locator('[data-testid=export-json]').click()]);
    const path = join(outputDir, 'text-atlas.json');
    await download.saveAs(path);
    const file = JSON.parse(readFileSync(path, 'utf8'));
    assert.equal(file.modality, 'text');
    assert.ok(file.inputs.tokenIds.every((ids: number[]) => ids[0] === 50256), 'every document starts with <|endoftext|>');
    // Format 3: the token column as base64 little-endian int32.
    const tokens = new Int32Array(new Uint8Array(Buffer.from(file.points.token, 'base64')).buffer);
    assert.equal(tokens.length, file.points.count);
    assert.ok(tokens.every((t) => t >= 1), 'position 0 is never recorded');
    await page.locator('[data-testid=atlas-input]').setInputFiles(path);
    await waitForNewAtlas(page, before, 60_000);
    const reopened = await atlasState(page);
    assert.equal(reopened.inputCount, before.inputCount);
    assert.equal(reopened.cellCount, before.cellCount);
    assert.equal(await page.evaluate(() => window.__atlas!.modality), 'text');
  });

  it('keeps the model and the atlas when a picked safetensors file is truncated', async () => {
    const bad = join(tempDir('atlas-e2e-bad-'), 'model.safetensors');
    writeFileSync(bad, readFileSync(tiny.files[1]).subarray(0, 2000));
    const before = await atlasState(page);
    const model = await page.locator('[data-testid=model-summary]').innerText();
    await page.locator('[data-testid=model-input]').setInputFiles([tiny.files[0], bad]);
    await page.locator('[data-testid=error-list] li', { hasText: /model\.safetensors/ }).waitFor({ timeout: 30_000 });
    assert.match(await page.locator('[data-testid=error-list]').innerText(), /Could not load the model/);
    assert.equal(await page.locator('[data-testid=model-summary]').innerText(), model, 'the previous model stays');
    assert.equal((await atlasState(page)).atlasVersion, before.atlasVersion, 'the atlas stays');
  });

  it('loads a seeded random GPT-2 picked as config.json + model.safetensors, and records it', async () => {
    await page.locator('[data-testid=model-input]').setInputFiles(tiny.files);
    await page.locator('[data-testid=model-summary]', { hasText: 'GPT-2, 2 layers, 16-d' }).waitFor({ timeout: 60_000 });
    const layers = await page.locator('[data-testid=layer-select] option').allInnerTexts();
    assert.ok(layers.some((l) => /h\.1\.mlp\.act \[64×64\]/.test(l)), layers.join(' | '));
    const before = await atlasState(page);
    await page.locator('[data-testid=text-paste]').fill(PASTED);
    await page.locator('[data-testid=text-run]').click();
    await waitForNewAtlas(page, before);
    assert.equal((await atlasState(page)).inputCount, 5);
  });

  it('loads the wide built-in GPT-2 and builds a token atlas with it', async () => {
    await page.locator('[data-testid=builtin-text-wide]').click();
    await page.locator('[data-testid=model-summary]', { hasText: 'moby-kjv-gpt2-wide' }).waitFor({ timeout: 60_000 });
    assert.match(await page.locator('[data-testid=model-summary]').innerText(), /GPT-2, 4 layers, 128-d/);
    const layers = await page.locator('[data-testid=layer-select] option').allInnerTexts();
    assert.ok(layers.some((l) => /h\.2\.mlp\.act \[256×512\]/.test(l)), layers.join(' | '));
    const before = await atlasState(page);
    await page.locator('[data-testid=text-paste]').fill(PASTED);
    await page.locator('[data-testid=text-run]').click();
    await waitForNewAtlas(page, before);
    const s = await atlasState(page);
    assert.equal(s.inputCount, 5);
    assert.ok(s.cellCount > 10, `cells: ${s.cellCount}`);
    await waitForSteadyView(page);
    await screenshot(page, '45-text-atlas-wide-model');
  });

  it('fetches a model by Hugging Face id from a mirror, with progress, and loads it again offline', async () => {
    await page.locator('details:has([data-testid=hub-base-url]) summary').click();
    await page.locator('[data-testid=hub-base-url]').fill(mirror!.baseUrl);
    await page.locator('[data-testid=hub-id]').fill('tester/tiny-gpt2');
    await page.locator('button', { hasText: 'Fetch' }).click();
    await page.locator('[data-testid=model-summary]', { hasText: 'tester/tiny-gpt2' }).waitFor({ timeout: 60_000 });
    assert.ok(mirror!.requests.some((r) => r.endsWith('/model.safetensors')), mirror!.requests.join(', '));
    // Offline: the mirror is gone, the files come from the browser's storage.
    await new Promise<void>((resolve) => mirror!.server.close(() => resolve()));
    await page.locator('[data-testid=builtin-text]').click();
    await page.locator('[data-testid=model-summary]', { hasText: 'built-in' }).waitFor({ timeout: 60_000 });
    await page.locator('[data-testid=hub-id]').fill('tester/tiny-gpt2');
    await page.locator('button', { hasText: 'Fetch' }).click();
    await page.locator('[data-testid=model-summary]', { hasText: 'tester/tiny-gpt2' }).waitFor({ timeout: 60_000 });
    mirror = null;
  });
});
