import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { Download, Page } from 'playwright-core';
import { writeSafetensors } from '../../src/model/text/safetensors';
import { atlasState, cellCenters, openReadyAppForSuite, outputDir, screenshot, waitForNewAtlas, waitForSteadyView } from './harness';

const SAE_DIR = join(outputDir, 'dictionary');
const PASTED = [
  'Call me Ishmael. Some years ago, never mind how long precisely, having little or no money in my purse, I thought I would sail about a little and see the watery part of the world.',
  'The whale rose slowly from the deep, and the sea around the ship was white with foam. The harpooneers stood ready in the boats, and the mate called out the bearings.',
  'There now is your insular city of the Manhattoes, belted round by wharves as Indian isles by coral reefs; commerce surrounds it with her surf.',
].join('\n\n');

/** The page's SAE state (window.__atlas.sae). */
const saeState = (page: Page) => page.evaluate(() => window.__atlas!.sae);

/** Waits until the dictionary panel has no task running; returns its failure message, if it failed. */
async function waitForSaeTask(page: Page, timeout = 120_000): Promise<string | null> {
  const handle = await page.waitForFunction(
    () => {
      const t = window.__atlas!.sae.task;
      return t === null ? { message: null } : t.status === 'error' ? { message: t.message } : false;
    },
    null,
    { timeout, polling: 100 },
  );
  return ((await handle.jsonValue()) as { message: string | null }).message;
}

/**
 * Presses *Latent atlas ↗* and waits for the new tab's atlas: its state and input summary (the latents' labels),
 * after `inspect` has looked at the tab; the tab is closed after.
 */
async function openLatentAtlas(page: Page, inspect: (tab: Page) => Promise<void> = async () => undefined) {
  const [tab] = await Promise.all([page.context().waitForEvent('page'), page.locator('[data-testid=sae-latent-atlas]').click()]);
  try {
    await tab.waitForFunction(() => window.__atlas?.status === 'ready' || window.__atlas?.status === 'error', null, { timeout: 120_000, polling: 200 });
    const state = await atlasState(tab);
    assert.equal(state.status, 'ready', `the latent atlas: ${state.error}`);
    assert.equal(await tab.evaluate(() => window.__atlas!.modality), 'precomputed');
    const summary = await tab.locator('[data-testid=input-summary]').innerText();
    await inspect(tab);
    return { state, summary };
  } finally {
    await tab.close();
  }
}

/** Fills the panel's settings and presses Train. */
async function train(page: Page, settings: { k: number; epochs: number }): Promise<void> {
  const panel = page.locator('[data-testid=dictionary-panel]');
  await panel.locator('[data-testid=sae-architecture]').selectOption('topk');
  await panel.locator('[data-testid=sae-k]').fill(String(settings.k));
  await panel.locator('[data-testid=sae-epochs]').fill(String(settings.epochs));
  await panel.locator('[data-testid=sae-seed]').fill('0');
  await panel.locator('[data-testid=sae-train]').click();
}

/**
 * The dictionary panel on the default atlas (the built-in fashion CNN's conv3, 32 wide, over its sample): an SAE
 * trained in the page with a live curve, a cancelled run, a latent's top inputs, its latents against neurons and
 * random directions (and in the blind study), SAELens files saved and reopened, and a file of the wrong width
 * refused with the atlas left as it was.
 */
describe('dictionary: a sparse autoencoder of the atlas layer, trained in the page', { timeout: 5 * 60_000 }, () => {
  let page: Page;
  openReadyAppForSuite((p) => (page = p));
  let trained: NonNullable<Awaited<ReturnType<typeof saeState>>['held']>;

  it('draws the training curve live, and a cancel stops the run cleanly without an SAE', async () => {
    const panel = page.locator('[data-testid=dictionary-panel]');
    await panel.scrollIntoViewIfNeeded();
    const rows = await page.evaluate(() => window.__atlas!.activationCount);
    assert.ok(rows > 1000, `the default atlas has its sample's rows: ${rows}`);
    // Long enough that it is still running when cancelled.
    await train(page, { k: 8, epochs: 400 });
    await page.waitForFunction(() => window.__atlas!.sae.spans >= 3, null, { timeout: 60_000, polling: 50 });
    const early = await saeState(page);
    assert.equal(early.task?.kind, 'train');
    assert.equal(early.task?.status, 'running');
    // Progress goes up while the page watches: more rows seen, more points on the chart's lines.
    await page.waitForFunction((seen) => window.__atlas!.sae.rowsSeen > seen && window.__atlas!.sae.task?.fraction! > 0, early.rowsSeen, { timeout: 60_000, polling: 50 });
    const points = Number(await panel.locator('[data-testid=sae-series-fve] polyline').getAttribute('data-points'));
    assert.ok(points >= 3, `the FVE line has a point per span: ${points}`);
    await screenshot(page, '70-dictionary-training');
    await panel.locator('[data-testid=sae-cancel]').click();
    const failure = await waitForSaeTask(page);
    assert.equal(failure, null, 'a cancel is not a failure');
    const after = await saeState(page);
    assert.equal(after.runEnd, 'cancelled');
    assert.equal(after.held, null, 'a cancelled run leaves no SAE');
    assert.ok(after.rowsSeen < after.totalRows, `it stopped before the end: ${after.rowsSeen} of ${after.totalRows}`);
    assert.deepEqual(after.epochLoss, [], 'an image model has no next-token loss to recover');
    assert.equal(await panel.locator('[data-testid=sae-series-loss]').count(), 0);
    assert.ok(after.spans >= early.spans);
    assert.match(await panel.locator('h3').first().innerText(), /cancelled/);
    assert.equal(await page.evaluate(() => window.__atlas!.status), 'ready', 'the atlas stays');
  });

  it('trains to the end: its figures over every row, latents by frequency, and a latent\'s top inputs', async () => {
    const panel = page.locator('[data-testid=dictionary-panel]');
    // The model worker answers after the cancel: this run starts and finishes.
    await train(page, { k: 8, epochs: 3 });
    assert.equal(await waitForSaeTask(page), null);
    const s = await saeState(page);
    assert.ok(s.held, 'an SAE is held');
    trained = s.held;
    assert.equal(s.runEnd, 'done');
    assert.equal(s.rowsSeen, s.totalRows, 'the curve reaches the end');
    assert.ok(s.spans > 3, `spans: ${s.spans}`);
    assert.deepEqual([trained.origin, trained.architecture, trained.dIn, trained.dSae, trained.k, trained.layer], ['trained', 'topk', 32, 256, 8, 'conv3']);
    assert.ok(trained.fve > 0.5 && trained.fve <= 1, `FVE ${trained.fve}`);
    assert.ok(trained.l0 > 0 && trained.l0 <= 8, `L0 ${trained.l0}`);
    assert.equal(await panel.locator('[data-testid=sae-fve]').innerText(), trained.fve.toFixed(3));
    const listed = panel.locator('[data-testid=sae-latent]');
    assert.equal(await listed.count(), Math.min(40, trained.liveLatents));
    const first = Number(await listed.first().getAttribute('data-latent'));
    await listed.first().click();
    await page.waitForFunction((latent) => window.__atlas!.sae.latent === latent, first);
    const top = panel.locator('[data-testid=sae-latent-top] .neuron-top-point');
    await top.first().waitFor({ timeout: 30_000 });
    assert.ok((await top.count()) >= 1);
    assert.equal(await panel.locator('[data-testid=sae-latent-top] img').count(), await top.count(), 'each top input shows its image');
    // Its histogram over the rows where it fires, the rest counted as silent: the two add up to every row.
    const bars = await panel.locator('[data-testid=sae-latent-histogram] span').evaluateAll((els) => els.map((e) => Number(e.getAttribute('title'))));
    assert.equal(bars.length, 30);
    const spread = panel.locator('[data-testid=sae-latent-spread]');
    const [fired, silent] = await Promise.all([spread.getAttribute('data-fired'), spread.getAttribute('data-silent')]).then((v) => v.map(Number));
    assert.equal(bars.reduce((a, b) => a + b, 0), fired);
    assert.equal(fired + silent, 12000, await spread.innerText());
    assert.match(await spread.innerText(), /^Fires on [\d,]+ rows, from -?\d+\.\d\d to \d+\.\d\d; silent on [\d,]+\.$/);
    console.log(`SAE on conv3: ${JSON.stringify(trained)}`);
    // As a concept: the latent's top points against the rest of the atlas, learnt like any concept.
    const concepts = await page.evaluate(() => window.__atlas!.concepts.length);
    const asConcept = panel.locator('[data-testid=sae-latent-concept]');
    const rows = Number((await asConcept.innerText()).match(/its (\d+) top points/)![1]);
    await asConcept.click();
    await page.waitForFunction((n) => window.__atlas!.concepts.length > n, concepts, { timeout: 30_000 });
    const concept = await page.evaluate(() => window.__atlas!.concepts.at(-1)!);
    assert.equal(concept.name, `latent ${first}`);
    assert.equal(concept.positives, rows, `the concept's examples are the latent's ${rows} top points: ${JSON.stringify(concept)}`);
    // Against the rest of the atlas (a seeded sample of it, as for any concept from points).
    assert.ok(concept.negatives > concept.positives, JSON.stringify(concept));
    assert.match(concept.source, new RegExp(`top points of SAE latent #${first} against the rest of the atlas`));
    await panel.locator('[data-testid=sae-result]').scrollIntoViewIfNeeded();
    await screenshot(page, '71-dictionary-latent');
  });

  it("lists a clicked cell's strongest latents in the inspector, each a click away from its view", async () => {
    await waitForSteadyView(page);
    const [cell] = await cellCenters(page);
    await page.mouse.click(cell.x, cell.y);
    const inspector = page.locator('[data-testid=cell-inspector]');
    await inspector.waitFor();
    const listed = inspector.locator('[data-testid=cell-latents] [data-testid=cell-latent]');
    await listed.first().waitFor({ timeout: 30_000 });
    const rows = await listed.evaluateAll((els) => els.map((e) => [Number(e.getAttribute('data-latent')), ...e.querySelector('.bar-value')!.textContent!.split(' · ').map(parseFloat)]));
    assert.ok(rows.length >= 1 && rows.length <= 8, JSON.stringify(rows));
    // Strongest first; each fires on some of the cell's points (with k 8 of 256 latents a point, a cell shares a few).
    rows.forEach(([, mean, share], n) => {
      assert.ok(mean > 0 && share > 0 && share <= 100, JSON.stringify(rows));
      if (n > 0) assert.ok(mean <= rows[n - 1][1], `strongest first: ${JSON.stringify(rows)}`);
    });
    assert.match(await inspector.locator('[data-testid=cell-latents]').innerText(), new RegExp(`cell's ${cell.count.toLocaleString('en')} points`));
    const [latent] = rows[rows.length - 1];
    await listed.last().click();
    await page.waitForFunction((l) => window.__atlas!.sae.latent === l, latent);
    const view = page.locator('[data-testid=sae-latent-view] h3').first();
    assert.match(await view.innerText(), new RegExp(`^Latent #${latent}:`));
    await inspector.locator('[data-testid=cell-latents]').scrollIntoViewIfNeeded();
    await screenshot(page, '71-dictionary-cell-latents');
    console.log(`cell (${cell.i}, ${cell.j}) of ${cell.count} points: strongest latents ${JSON.stringify(rows)}`);
  });

  it('opens the latent atlas in a new tab: a point per live latent, named by its top inputs\' labels; this tab keeps its atlas and SAE', async () => {
    const before = await atlasState(page);
    const reloaded: { state?: Awaited<ReturnType<typeof atlasState>> } = {};
    const { state: s, summary } = await openLatentAtlas(page, async (tab) => {
      await waitForSteadyView(tab);
      await screenshot(tab, '71-dictionary-latent-atlas');
      // Its files are kept in the browser, not lent by this tab: the new tab reloads to the same atlas.
      await tab.reload();
      await tab.waitForFunction(() => window.__atlas?.status === 'ready' || window.__atlas?.status === 'error', null, { timeout: 120_000, polling: 200 });
      reloaded.state = await atlasState(tab);
    });
    const again = reloaded.state!;
    assert.deepEqual([again.status, again.inputCount, again.cellCount], ['ready', s.inputCount, s.cellCount], 'the reloaded tab builds the same atlas');
    // One point per live latent (a latent's unit decoder row), binned into cells.
    assert.equal(s.inputCount, trained.liveLatents);
    assert.equal(s.activationCount, trained.liveLatents);
    assert.ok(s.cellCount > 1, `cells: ${s.cellCount}`);
    // Each latent is labelled by the class most common among its top inputs: Fashion-MNIST's classes.
    assert.match(summary, /labels: .*(Trouser|Sneaker|Bag|Ankle boot)/, summary);
    console.log(`latent atlas: ${JSON.stringify(s)}; ${summary}`);
    // This tab is as it was: the same atlas, and the SAE still held.
    assert.equal((await atlasState(page)).atlasVersion, before.atlasVersion);
    assert.ok((await saeState(page)).held, 'the SAE stays');
    // A tab opened on files that are gone (a key the browser does not keep) says so instead of building anything.
    const stale = await page.context().newPage();
    try {
      const origin = new URL(page.url()).origin;
      await stale.goto(`${origin}/?latent-atlas=gone`);
      await stale.waitForFunction(() => window.__atlas?.status === 'error', null, { timeout: 30_000 });
      assert.match((await atlasState(stale)).error ?? '', /latent atlas's files are gone/);
    } finally {
      await stale.close();
    }
  });

  it('scores the latents beside neurons and random directions, and deals them into the blind study', async () => {
    const neurons = page.locator('[data-testid=neurons-panel]');
    assert.equal(await neurons.locator('[data-testid=versus-latents]').isChecked(), true, 'with an SAE held, the comparison includes its latents');
    await neurons.locator('[data-testid=versus-run]').click();
    const handle = await page.waitForFunction(() => {
      const t = window.__atlas!.directionsTask;
      return t === null ? { message: null } : t.status === 'error' ? { message: t.message } : false;
    }, null, { timeout: 120_000, polling: 100 });
    assert.equal(((await handle.jsonValue()) as { message: string | null }).message, null);
    const versus = (await page.evaluate(() => window.__atlas!.versus))!;
    console.log(`neurons vs SAE latents vs random: ${JSON.stringify(versus)}`);
    assert.ok(versus.latents >= 2 && versus.latents <= 32, JSON.stringify(versus));
    for (const score of [versus.purity!, versus.coherence!]) {
      assert.ok(score.latent, JSON.stringify(score));
      for (const p of [score.latent.pNeurons, score.latent.pRandom]) assert.ok(p >= 0 && p <= 1, JSON.stringify(score));
    }
    assert.ok(versus.purity!.latent!.mean > 0 && versus.purity!.latent!.mean <= 1);
    assert.ok(versus.dissection!.latent !== null && versus.dissection!.latent >= 0 && versus.dissection!.latent <= 1);
    // A row for the latents' scores below the neurons' and the random directions', and two rows of their tests.
    const table = neurons.locator('[data-testid=versus-table]');
    const cells = await table.locator('[data-testid=versus-latent] td').allInnerTexts();
    assert.equal(cells.length, 3);
    assert.ok(cells[0].startsWith(`${versus.purity!.latent!.mean.toFixed(2)} ± `), cells[0]);
    assert.equal(await table.locator('tbody tr').count(), 6);
    assert.equal(await neurons.locator('[data-testid=purity-strip] .dot-latent').count(), versus.latents);
    await neurons.locator('[data-testid=versus-table]').scrollIntoViewIfNeeded();
    await screenshot(page, '71-dictionary-versus-latents');
    await neurons.locator('[data-testid=study-start]').click();
    assert.equal(await page.locator('[data-testid=study-card]').count(), 2 * versus.neurons + versus.latents);
    const marked = 5;
    for (let c = 0; c < marked; c++) await page.locator('[data-testid=study-mark]').nth(c).check();
    await page.locator('[data-testid=study-reveal]').click();
    await page.locator('[data-testid=study-result]').waitFor();
    const reveal = (await page.evaluate(() => window.__atlas!.study!.reveal))!;
    assert.ok(reveal.latent !== null, 'the reveal has the latents\' rate');
    // The three rates account for every mark.
    assert.equal(Math.round((reveal.neuron + reveal.random) * versus.neurons + reveal.latent * versus.latents), marked);
    assert.equal(await page.locator('.study-card.latent').count(), versus.latents);
    assert.match(await page.locator('[data-testid=study-result]').innerText(), /SAE latents \d+\/\d+/);
    await page.locator('[data-testid=study-close]').click();
  });

  it("measures the latents' polysemanticity by neuron embeddings, beside the neurons'", async () => {
    const panel = page.locator('[data-testid=dictionary-panel]');
    await panel.locator('[data-testid=sae-poly-run]').click();
    assert.equal(await waitForSaeTask(page), null);
    const poly = (await saeState(page)).polysemanticity!;
    console.log(`latent polysemanticity: ${JSON.stringify(poly)}`);
    assert.equal(poly.histogram.reduce((a, b) => a + b, 0), trained.dSae, 'every latent is counted once');
    assert.equal(poly.threshold, 0.7, "an image model's default threshold");
    assert.ok(poly.mean >= 0 && poly.mean <= Math.max(...poly.histogram.keys()), JSON.stringify(poly));
    assert.match(await panel.locator('[data-testid=sae-poly-histogram]').innerText(), /Latents with 0 \/ 1 \/ 2… clusters/);
    // The latent list gains each latent's count of clusters.
    assert.equal(await panel.locator('[data-testid=sae-latents] thead th').count(), 4);
    await panel.locator('[data-testid=sae-poly-histogram]').scrollIntoViewIfNeeded();
    await screenshot(page, '71-dictionary-latent-polysemanticity');
  });

  it("saves SAELens's two files and opens them again: the same weights and figures", async () => {
    const panel = page.locator('[data-testid=dictionary-panel]');
    const downloads: Download[] = [];
    const collect = (d: Download) => downloads.push(d);
    page.on('download', collect);
    await panel.locator('[data-testid=sae-save]').click();
    const deadline = Date.now() + 30_000;
    while (downloads.length < 2 && Date.now() < deadline) await page.waitForEvent('download', { timeout: deadline - Date.now() }).catch(() => undefined);
    page.off('download', collect);
    assert.equal(downloads.length, 2, 'cfg.json and sae_weights.safetensors');
    mkdirSync(SAE_DIR, { recursive: true });
    const paths = await Promise.all(
      downloads.map(async (d) => {
        const path = join(SAE_DIR, d.suggestedFilename());
        await d.saveAs(path);
        return path;
      }),
    );
    const cfgPath = paths.find((p) => p.endsWith('cfg.json'))!;
    assert.ok(paths.some((p) => p.endsWith('sae_weights.safetensors')), paths.join(', '));
    const cfg = JSON.parse(readFileSync(cfgPath, 'utf8'));
    assert.deepEqual([cfg.d_in, cfg.d_sae, cfg.architecture, cfg.k, cfg.metadata.hook_name], [32, 256, 'topk', 8, 'conv3']);
    await panel.locator('[data-testid=sae-open]').setInputFiles(paths);
    assert.equal(await waitForSaeTask(page), null);
    const opened = (await saeState(page)).held!;
    assert.equal(opened.origin, 'opened');
    assert.equal(opened.digest, trained.digest, 'the same weights, bit for bit');
    assert.deepEqual([opened.mse, opened.fve, opened.l0, opened.deadLatents], [trained.mse, trained.fve, trained.l0, trained.deadLatents]);
  });

  it('refuses an SAE of another width with a message; the atlas and the SAE on screen stay', async () => {
    const panel = page.locator('[data-testid=dictionary-panel]');
    const before = await page.evaluate(() => ({ version: window.__atlas!.atlasVersion, held: window.__atlas!.sae.held }));
    const [dIn, dSae] = [64, 128];
    const cfg = join(SAE_DIR, 'wide-cfg.json');
    writeFileSync(cfg, JSON.stringify({ d_in: dIn, d_sae: dSae, architecture: 'topk', k: 4, apply_b_dec_to_input: true, metadata: { hook_name: 'conv3' } }));
    const weights = join(SAE_DIR, 'wide-sae_weights.safetensors');
    writeFileSync(
      weights,
      writeSafetensors([
        { name: 'W_enc', shape: [dIn, dSae], data: new Float32Array(dIn * dSae).fill(0.01) },
        { name: 'W_dec', shape: [dSae, dIn], data: new Float32Array(dSae * dIn).fill(0.01) },
        { name: 'b_enc', shape: [dSae], data: new Float32Array(dSae) },
        { name: 'b_dec', shape: [dIn], data: new Float32Array(dIn) },
      ]),
    );
    await panel.locator('[data-testid=sae-open]').setInputFiles([cfg, weights]);
    const message = await waitForSaeTask(page);
    assert.match(message ?? '', /reads 64-wide activations \(d_in\), but layer conv3 is 32 wide/);
    assert.match(await panel.locator('[data-testid=sae-task-message]').innerText(), /64-wide/);
    const after = await page.evaluate(() => ({ version: window.__atlas!.atlasVersion, status: window.__atlas!.status, held: window.__atlas!.sae.held }));
    assert.equal(after.version, before.version, 'the same atlas');
    assert.equal(after.status, 'ready');
    assert.equal(after.held?.digest, before.held?.digest, 'the SAE held stays');
    await panel.locator('[data-testid=sae-task]').scrollIntoViewIfNeeded();
    await screenshot(page, '72-dictionary-bad-file');
  });

  it("on a GPT-2 token atlas: a new atlas drops the SAE; one trained on it shows a latent's top contexts and the tokens its decoder promotes", async () => {
    const before = await atlasState(page);
    await page.locator('[data-testid=text-paste]').fill(PASTED);
    await page.locator('[data-testid=text-run]').click();
    await waitForNewAtlas(page, before);
    assert.equal(await page.evaluate(() => window.__atlas!.modality), 'text');
    assert.equal((await saeState(page)).held, null, 'the SAE belonged to the atlas it replaced');
    const panel = page.locator('[data-testid=dictionary-panel]');
    await panel.scrollIntoViewIfNeeded();
    await train(page, { k: 16, epochs: 20 });
    assert.equal(await waitForSaeTask(page), null);
    const held = (await saeState(page)).held!;
    assert.deepEqual([held.dIn, held.dSae, held.layer], [256, 2048, 'h.2.mlp.act']);
    await panel.locator('[data-testid=sae-latent]').first().click();
    const contexts = panel.locator('[data-testid=sae-latent-top] [data-testid=top-context]');
    await contexts.first().waitFor({ timeout: 30_000 });
    const marked = await contexts.evaluateAll((els) => els.map((e) => e.querySelectorAll('[data-testid=context-token]').length));
    assert.ok(marked.length >= 1 && marked.every((n) => n === 1), `each context marks its token: ${marked.join(',')}`);
    await panel.locator('[data-testid=promoted-tokens] span').first().waitFor({ timeout: 30_000 });
    await panel.locator('[data-testid=sae-latent-view]').scrollIntoViewIfNeeded();
    await screenshot(page, '73-dictionary-text-latent');

    // A cell of the token atlas lists its strongest latents too.
    await waitForSteadyView(page);
    const [cell] = await cellCenters(page);
    await page.mouse.click(cell.x, cell.y);
    const cellLatents = page.locator('[data-testid=cell-inspector] [data-testid=cell-latent]');
    await cellLatents.first().waitFor({ timeout: 30_000 });
    assert.ok((await cellLatents.count()) >= 1);

    // Its latent atlas: a point per live latent, each labelled by the token most common among its top rows.
    const latentAtlas = await openLatentAtlas(page);
    assert.equal(latentAtlas.state.inputCount, held.liveLatents);
    const labels = latentAtlas.summary.replace(/^.*labels: /s, '').split(', ');
    const inText = labels.filter((l) => l.trim() !== '' && PASTED.includes(l.trim()));
    assert.ok(labels.length >= 2 && inText.length >= 0.8 * labels.length, `the labels are tokens of the text: ${latentAtlas.summary}`);

    // Loss recovered: the SAE spliced in for h.2.mlp.act over the atlas's first contexts.
    await panel.locator('[data-testid=sae-loss-contexts]').fill('none');
    await panel.locator('[data-testid=sae-loss-run]').click();
    assert.match((await waitForSaeTask(page))!, /Contexts must be a whole number/);
    assert.equal((await saeState(page)).held!.digest, held.digest, 'the SAE stays');
    await panel.locator('[data-testid=sae-loss-contexts]').fill('8');
    await panel.locator('[data-testid=sae-loss-run]').click();
    assert.equal(await waitForSaeTask(page), null);
    const { lossRecovered, epochLoss } = await saeState(page);
    const loss = lossRecovered!;
    console.log(`loss recovered: ${JSON.stringify(loss)}; at each epoch's end: ${epochLoss.map((l) => l.toFixed(3)).join(' ')}`);
    // Training measured it live, at each epoch's end over the same first 8 contexts: its last is this SAE's.
    assert.equal(epochLoss.length, 20);
    assert.ok(Math.abs(epochLoss[19] - loss.lossRecovered) < 1e-6, `live ${epochLoss[19]} against measured ${loss.lossRecovered}`);
    assert.equal(await panel.locator('[data-testid=sae-series-loss] polyline').getAttribute('data-points'), '20');
    assert.match(await panel.locator('[data-testid=sae-epoch-loss]').innerText(), new RegExp(`over the first 3 contexts; after epoch 20: ${loss.lossRecovered.toFixed(3)} `));
    await panel.locator('[data-testid=sae-chart]').scrollIntoViewIfNeeded();
    await screenshot(page, '74a-dictionary-epoch-loss');
    assert.ok(loss.windows >= 1 && loss.windows <= 8, JSON.stringify(loss));
    assert.ok(loss.zero > loss.clean, 'zeroing the MLP hurts');
    assert.ok(loss.spliced < loss.zero && loss.lossRecovered > 0 && loss.lossRecovered <= 1.05, JSON.stringify(loss));
    assert.match(await panel.locator('[data-testid=sae-loss]').innerText(), /loss recovered \d\.\d{3}/);
    await panel.locator('[data-testid=sae-loss]').scrollIntoViewIfNeeded();
    await screenshot(page, '74-dictionary-text-loss');
  });
});
