import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import type { Page } from 'playwright-core';
import { openAppForSuite, openReadyAppForSuite, outputDir, repoRoot, screenshot, waitForNewAtlas, waitForStatus, waitForSteadyView } from './harness';
import { filesWithCorruptOnes } from './images';

/** Drags a lasso through the given page points. */
async function lasso(page: Page, path: [number, number][]): Promise<void> {
  await page.locator('[data-testid=select-tool]').selectOption('lasso');
  await page.mouse.move(...path[0]);
  await page.mouse.down();
  for (const p of path.slice(1)) await page.mouse.move(...p, { steps: 3 });
  await page.mouse.up();
  await page.locator('[data-testid=select-tool]').selectOption('pan');
}

/** A lasso around the middle of the atlas canvas. */
async function lassoMiddle(page: Page): Promise<void> {
  await waitForSteadyView(page);
  const box = (await page.locator('[data-testid=atlas-view] canvas').boundingBox())!;
  const [cx, cy] = [box.x + box.width / 2, box.y + box.height / 2];
  await lasso(page, [[cx - 90, cy - 80], [cx + 70, cy - 90], [cx + 90, cy + 50], [cx - 10, cy + 100], [cx - 100, cy + 30]]);
  await page.waitForFunction(() => window.__atlas!.selection.points.length > 0);
}

/** Waits until the Interventions panel's run of `kind` (another than run `before`, if given) has ended. */
async function runEnded(page: Page, kind: 'steering' | 'ablation' | 'classRun', before: number | null = null): Promise<void> {
  await page.waitForFunction(
    ({ k, b }) => {
      const run = window.__atlas!.interventions[k];
      return run !== null && run.id !== b && run.end !== 'running';
    },
    { k: kind, b: before },
    { timeout: 120_000, polling: 50 },
  );
}

/** Waits for the concept panel's task to finish; fails with its message if it failed. */
async function waitForTask(page: Page, timeout = 240_000): Promise<void> {
  const handle = await page.waitForFunction(() => {
    const t = window.__atlas!.directionsTask;
    return t === null ? { ok: true } : t.status === 'error' ? { ok: false, message: t.message } : false;
  }, null, { timeout, polling: 100 });
  const result = (await handle.jsonValue()) as { ok: boolean; message?: string };
  assert.ok(result.ok, result.message);
}

/** Neurons against random directions, then the blind study with the first `marked` cards ticked, then the reveal. */
async function versusAndStudy(page: Page, shot: string, marked = 6): Promise<void> {
  await page.locator('[data-testid=versus-run]').click();
  await waitForTask(page);
  const versus = (await page.evaluate(() => window.__atlas!.versus))!;
  assert.ok(versus.neurons >= 2, JSON.stringify(versus));
  assert.ok(versus.coherence && versus.coherence.p >= 0 && versus.coherence.p <= 1, JSON.stringify(versus));
  // Without an SAE: a row for the neurons, one for the random directions and one for their tests.
  assert.deepEqual(await page.locator('[data-testid=versus-table] tbody tr').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-testid'))), ['versus-neuron', 'versus-random', 'versus-p-neurons-random']);
  console.log(`neurons vs random: ${JSON.stringify(versus)}`);
  await page.locator('[data-testid=study-start]').click();
  const cards = page.locator('[data-testid=study-card]');
  assert.equal(await cards.count(), 2 * versus.neurons);
  for (let c = 0; c < marked; c++) await page.locator('[data-testid=study-mark]').nth(c).check();
  assert.equal((await page.evaluate(() => window.__atlas!.study))!.marked, marked);
  await page.locator('[data-testid=study-reveal]').click();
  await page.locator('[data-testid=study-result]').waitFor();
  const study = (await page.evaluate(() => window.__atlas!.study))!;
  assert.ok(study.reveal, 'revealed');
  // The two rates account for every mark: marked = neuron rate x neurons + random rate x random directions.
  assert.equal(Math.round(study.reveal.neuron * versus.neurons + study.reveal.random * versus.neurons), marked);
  assert.ok(study.reveal.p > 0 && study.reveal.p <= 1);
  assert.equal(await page.locator('.study-card.neuron').count(), versus.neurons);
  await screenshot(page, shot);
  await page.locator('[data-testid=study-close]').click();
}

/** Measures the layer's polysemanticity, opens the top neuron's clusters and makes its first cluster a concept. */
async function polysemanticity(page: Page): Promise<void> {
  await page.locator('[data-testid=poly-run]').click();
  await waitForTask(page, 300_000);
  const poly = (await page.evaluate(() => window.__atlas!.polysemanticity))!;
  assert.ok(poly.neurons > 0 && poly.histogram.reduce((a, b) => a + b, 0) === poly.neurons, JSON.stringify(poly));
  assert.ok(poly.clusters.length > 0, 'the first neuron listed has clusters');
  // Listed by score, the first shown: it has the most clusters of at least m = 3 members.
  assert.equal(poly.clusters.filter((size) => size >= 3).length, poly.histogram.length - 1);
  assert.equal(await page.locator('[data-testid=poly-neuron]').first().innerText(), `#${poly.neuron}`);
  await page.locator('[data-testid=poly-cluster]').first().waitFor();
  console.log(`polysemanticity: ${JSON.stringify(poly)}`);
  const concepts = (await page.evaluate(() => window.__atlas!.concepts)).length;
  await page.locator('[data-testid=poly-concept]').first().click();
  await waitForTask(page);
  assert.equal((await page.evaluate(() => window.__atlas!.concepts)).length, concepts + 1);
}

/** Mean brightness difference between two screenshots of the atlas canvas (PNG buffers compared by bytes). */
const differs = (a: Buffer, b: Buffer) => !a.equals(b);

describe('Directions in Chromium: concepts, TCAV, class filter (built-in image model)', { timeout: 20 * 60_000 }, () => {
  let page: Page;
  let ready = false;
  const needsAtlas = (t: TestContext) => {
    if (!ready) t.skip('the default atlas did not build');
    return !ready;
  };
  openAppForSuite((p) => {
    page = p;
  });

  it('makes a concept of a lassoed region, colours the atlas by it and lists both of its ends', async () => {
    await waitForStatus(page, 'ready');
    ready = true;
    await lassoMiddle(page);
    const selected = await page.evaluate(() => window.__atlas!.selection.points.length);
    await page.locator('[data-testid=concept-name]').fill('middle');
    const before = await page.locator('.atlas-canvas canvas').screenshot();
    await page.locator('[data-testid=concept-from-selection]').click();
    await waitForTask(page);
    const concepts = await page.evaluate(() => window.__atlas!.concepts);
    assert.equal(concepts.length, 1);
    assert.equal(concepts[0].name, 'middle');
    assert.equal(concepts[0].positives, selected);
    assert.ok(concepts[0].accuracy !== null && concepts[0].accuracy > 0.8, `held-out accuracy ${concepts[0].accuracy}`);
    const colour = await page.evaluate(() => window.__atlas!.colourBy);
    assert.equal(colour.kind, 'concept');
    assert.ok(colour.cells > 20 && colour.max > colour.min, JSON.stringify(colour));
    await page.locator('[data-testid=concept-top] > span').first().waitFor();
    assert.ok((await page.locator('[data-testid=concept-top] > span').count()) > 0);
    assert.ok((await page.locator('[data-testid=concept-bottom] > span').count()) > 0);
    await page.locator('[data-testid=concept-accuracy]').waitFor();
    await waitForSteadyView(page);
    const after = await page.locator('.atlas-canvas canvas').screenshot();
    assert.ok(differs(before, after), 'the atlas looks different once coloured by the concept');
    await page.locator('[data-testid=concept-featurevis]').waitFor({ timeout: 240_000 });
    await screenshot(page, 'directions-01-concept');
  });

  it("steers along the concept and ablates a neuron, and the chosen class's probability and accuracy move against 20 random controls", async (t) => {
    if (needsAtlas(t)) return;
    const panel = page.locator('[data-testid=interventions-panel]');
    const classRun = () => page.evaluate(() => window.__atlas!.interventions.classRun);
    const finished = (before: number | null) => runEnded(page, 'classRun', before);
    await panel.scrollIntoViewIfNeeded();
    assert.equal(await panel.locator('[data-testid=steer-prompt]').count(), 0, 'an image model has no prompt');
    await panel.locator('[data-testid=steer-class]').selectOption({ label: 'Trouser' });
    await panel.locator('[data-testid=steer-alpha]').fill('4');
    await panel.locator('[data-testid=steer-run]').click();
    await finished(null);
    const steered = (await classRun())!;
    console.log(`class steering: ${JSON.stringify(steered)}`);
    assert.deepEqual([steered.end, steered.kind, steered.direction, steered.className, steered.controls], ['done', 'steer', 'concept "middle"', 'Trouser', 20]);
    assert.ok(steered.images > 100 && Number.isFinite(steered.value) && steered.pT! > 0 && steered.pT! <= 1, JSON.stringify(steered));
    assert.match(await panel.locator('[data-testid=class-result]').innerText(), /P\(Trouser\) over \d+ held-out images: [\d.]+% → [\d.]+%/);

    await panel.locator('[data-testid=steer-kind]').selectOption('neuron');
    await panel.locator('[data-testid=steer-index]').fill('3');
    await panel.locator('[data-testid=ablate-mode]').selectOption('zero');
    await panel.locator('[data-testid=ablate-run]').click();
    await finished(steered.id);
    const ablated = (await classRun())!;
    console.log(`class ablation: ${JSON.stringify(ablated)}`);
    assert.deepEqual([ablated.end, ablated.kind, ablated.direction, ablated.controls], ['done', 'ablate', 'neuron 3', 20]);
    assert.match(await panel.locator('[data-testid=class-result]').innerText(), /Accuracy on \d+ held-out Trouser images/);
    await panel.screenshot({ path: join(outputDir, 'directions-02-image-interventions.png') });
    await panel.locator('[data-testid=steer-kind]').selectOption('concept');
  });

  it('runs TCAV for the most predicted classes and draws bars with significance marks', async (t) => {
    if (needsAtlas(t)) return;
    await page.locator('[data-testid=tcav-run]').click();
    await waitForTask(page);
    const tcav = await page.evaluate(() => window.__atlas!.tcav);
    assert.ok(tcav && tcav.classes.length === 3, JSON.stringify(tcav));
    for (const c of tcav.classes) {
      assert.ok(c.score >= 0 && c.score <= 1 && c.randomStd >= 0 && c.p >= 0 && c.p <= 1, JSON.stringify(c));
      assert.equal(c.significant, c.p < 0.05 / tcav.classesTested);
    }
    assert.equal(await page.locator('[data-testid=tcav-bar]').count(), 3);
    const marks = (await page.locator('[data-testid=tcav-significant]').count()) + (await page.locator('[data-testid=tcav-not-significant]').count());
    assert.equal(marks, 3);
    console.log(`TCAV of the lassoed concept: ${tcav.classes.map((c) => `${c.className} ${c.score.toFixed(2)} vs ${c.randomMean.toFixed(2)}±${c.randomStd.toFixed(2)} p=${c.p.toExponential(1)}`).join('; ')}`);
    await page.locator('[data-testid=concept-details]').screenshot({ path: join(outputDir, 'directions-02-tcav.png') });
  });

  it('tints cells by their attribution to a class (the class filter)', async (t) => {
    if (needsAtlas(t)) return;
    await page.locator('[data-testid=class-filter-target]').selectOption({ label: 'Trouser' });
    await page.locator('[data-testid=class-filter-run]').click();
    await waitForTask(page);
    const colour = await page.evaluate(() => window.__atlas!.colourBy);
    assert.equal(colour.kind, 'class');
    assert.ok(colour.label.includes('Trouser'), colour.label);
    assert.ok(colour.cells > 20 && colour.max > 0 && colour.min < colour.max, JSON.stringify(colour));
    await waitForSteadyView(page);
    await screenshot(page, 'directions-03-class-filter');
    await page.locator('[data-testid=colour-clear]').click();
    assert.equal((await page.evaluate(() => window.__atlas!.colourBy)).kind, 'none');
  });

  it('cancels a running direction task; the atlas stays as it was and the model worker keeps working', async (t) => {
    if (needsAtlas(t)) return;
    await page.locator('[data-testid=class-filter-target]').selectOption({ label: 'Bag' });
    await page.locator('[data-testid=class-filter-run]').click();
    // Cancel as soon as gradients are under way (progress: "done of total"), from inside the page so no time is lost.
    // A string, not a function: the test runner's transform would add helpers the page does not have.
    await page.evaluate(`new Promise((resolve) => {
      const tick = () => {
        const button = document.querySelector('[data-testid=concept-panel] [data-testid=directions-cancel]');
        if (button && / of \\d+/.test(window.__atlas.directionsTask?.message ?? '')) {
          button.click();
          resolve();
        } else requestAnimationFrame(tick);
      };
      tick();
    })`);
    await page.waitForFunction(() => window.__atlas!.directionsTask === null);
    assert.equal((await page.evaluate(() => window.__atlas!.colourBy)).kind, 'none', 'a cancelled class filter tints nothing');
    await page.locator('[data-testid=class-filter-run]').click();
    await waitForTask(page);
    const colour = await page.evaluate(() => window.__atlas!.colourBy);
    assert.ok(colour.kind === 'class' && colour.label.includes('Bag'), JSON.stringify(colour));
    await page.locator('[data-testid=colour-clear]').click();
  });

  it('saves concepts in the atlas file and brings them back on import', async (t) => {
    if (needsAtlas(t)) return;
    const [download] = await Promise.all([page.waitForEvent('download'), page.locator('[data-testid=export-json]').click()]);
    const path = join(outputDir, 'atlas-with-concept.json');
    await download.saveAs(path);
    const file = JSON.parse(readFileSync(path, 'utf8'));
    assert.equal(file.concepts.length, 1);
    assert.equal(file.concepts[0].name, 'middle');
    const before = await page.evaluate(() => ({ atlasVersion: window.__atlas!.atlasVersion, error: window.__atlas!.error ?? null }));
    await page.locator('[data-testid=atlas-input]').setInputFiles(path);
    await waitForNewAtlas(page, before);
    const concepts = await page.evaluate(() => window.__atlas!.concepts);
    assert.deepEqual(concepts.map((c) => c.name), ['middle']);
    await page.locator('[data-testid=concept-item]').first().click();
    await page.locator('[data-testid=concept-colour]').check();
    assert.ok((await page.evaluate(() => window.__atlas!.colourBy)).cells > 20);
  });

  it('compares neurons with random directions, runs the blind study and reveals it', async (t) => {
    if (needsAtlas(t)) return;
    // The file's atlas has no activations: build the default one again.
    const before = await page.evaluate(() => ({ atlasVersion: window.__atlas!.atlasVersion, error: window.__atlas!.error ?? null }));
    await page.locator('[data-testid=builtin-image]').click();
    await waitForNewAtlas(page, before);
    await versusAndStudy(page, 'directions-05-study');
    assert.ok((await page.evaluate(() => window.__atlas!.versus))!.dissection, 'the sample is labelled: Network Dissection runs');
    await page.locator('[data-testid=neurons-panel]').scrollIntoViewIfNeeded();
    await screenshot(page, 'directions-06-versus');
  });

  it('learns a concept from a folder of images against the rest; unreadable files are listed, the rest go through', async (t) => {
    if (needsAtlas(t)) return;
    const files = await filesWithCorruptOnes(12);
    const before = (await page.evaluate(() => window.__atlas!.concepts)).length;
    await page.locator('[data-testid=concept-panel] summary').click();
    await page.locator('[data-testid=concept-folder]').setInputFiles(dirname(files.paths[0]));
    await page.locator('[data-testid=concept-name]').fill('shapes');
    await page.locator('[data-testid=concept-from-folder]').click();
    await waitForTask(page);
    const concepts = await page.evaluate(() => window.__atlas!.concepts);
    assert.equal(concepts.length, before + 1);
    const shapes = concepts.at(-1)!;
    assert.equal(shapes.name, 'shapes');
    // Recorded as the atlas's points were: 4 seeded positions per image.
    assert.equal(shapes.positives, files.good * 4);
    // Balanced held-out accuracy; single positions of small drawn shapes often see only background, so no bar is set.
    assert.ok(shapes.accuracy !== null && shapes.accuracy >= 0 && shapes.accuracy <= 1, `accuracy ${shapes.accuracy}`);
    console.log(`concept of 12 drawn shapes at 4 positions each against the rest: balanced accuracy ${shapes.accuracy!.toFixed(3)}`);
    const problems = await page.locator('[data-testid=error-list] li').allInnerTexts();
    for (const bad of files.bad) assert.ok(problems.some((p) => p.includes(bad)), `${bad} is listed: ${problems.join(' | ')}`);
  });

  it('keeps the concepts through a rebuild of the same layer, and TCAV still runs on them', async (t) => {
    if (needsAtlas(t)) return;
    const names = (await page.evaluate(() => window.__atlas!.concepts)).map((c) => c.name);
    assert.ok(names.includes('shapes'), names.join(', '));
    const before = await page.evaluate(() => ({ atlasVersion: window.__atlas!.atlasVersion, error: window.__atlas!.error ?? null }));
    await page.locator('[data-testid=run-button]').click();
    await waitForNewAtlas(page, before);
    assert.deepEqual((await page.evaluate(() => window.__atlas!.concepts)).map((c) => c.name), names);
    await page.locator('[data-testid=tcav-run]').click();
    await waitForTask(page);
    const tcav = await page.evaluate(() => window.__atlas!.tcav);
    assert.ok(tcav && tcav.classes.length === 3, `TCAV of a carried concept: ${JSON.stringify(tcav)}`);
    assert.equal(await page.locator('[data-testid=tcav-bar]').count(), 3);
  });

  it('measures polysemanticity and shows a neuron\'s clusters', async (t) => {
    if (needsAtlas(t)) return;
    await polysemanticity(page);
    await page.locator('[data-testid=poly-clusters]').screenshot({ path: join(outputDir, 'directions-07-polysemanticity.png') });
  });
});

describe('Directions in Chromium: concepts and TCAV on the built-in GPT-2', { timeout: 20 * 60_000 }, () => {
  let page: Page;
  openReadyAppForSuite((p) => (page = p));

  it('makes a concept of lassoed tokens, shows the tokens it promotes, and tests next tokens with TCAV', async () => {
    const paragraphs = readFileSync(join(repoRoot, 'public/text-sample/moby-dick-sample.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .slice(0, 30)
      .map((line) => (JSON.parse(line) as { text: string }).text);
    const before = await page.evaluate(() => ({ atlasVersion: window.__atlas!.atlasVersion, error: window.__atlas!.error ?? null }));
    await page.locator('[data-testid=text-paste]').fill(paragraphs.join('\n\n'));
    await page.locator('[data-testid=text-run]').click();
    await waitForNewAtlas(page, before);
    assert.equal(await page.evaluate(() => window.__atlas!.modality), 'text');
    await lassoMiddle(page);
    await page.locator('[data-testid=concept-name]').fill('middle tokens');
    await page.locator('[data-testid=concept-method]').selectOption('logistic');
    await page.locator('[data-testid=concept-from-selection]').click();
    await waitForTask(page);
    const [concept] = await page.evaluate(() => window.__atlas!.concepts);
    assert.ok(concept.accuracy !== null && concept.accuracy > 0.7, `held-out accuracy ${concept.accuracy}`);
    assert.ok((await page.evaluate(() => window.__atlas!.colourBy)).cells > 10);
    await page.locator('[data-testid=concept-details] [data-testid=promoted-tokens] span').first().waitFor({ timeout: 60_000 });
    await page.locator('[data-testid=concept-top] > span').first().waitFor();
    await page.locator('[data-testid=tcav-classes]').fill('whale, sea');
    await page.locator('[data-testid=tcav-run]').click();
    await waitForTask(page);
    const tcav = (await page.evaluate(() => window.__atlas!.tcav))!;
    assert.deepEqual(tcav.classes.map((c) => c.className), ['" whale"', '" sea"']);
    for (const c of tcav.classes) assert.equal(c.significant, c.p < 0.05 / 2);
    assert.equal(await page.locator('[data-testid=tcav-bar]').count(), 2);
    console.log(`GPT-2 TCAV: ${tcav.classes.map((c) => `${c.className} ${c.score.toFixed(2)} vs ${c.randomMean.toFixed(2)}±${c.randomStd.toFixed(2)} p=${c.p.toExponential(1)}`).join('; ')}`);
    await page.locator('[data-testid=class-filter-target]').fill('whale');
    await page.locator('[data-testid=class-filter-run]').click();
    await waitForTask(page);
    const colour = await page.evaluate(() => window.__atlas!.colourBy);
    assert.ok(colour.kind === 'class' && colour.cells > 10 && colour.label.includes('whale'), JSON.stringify(colour));
    await waitForSteadyView(page);
    await screenshot(page, 'directions-04-text-concept');
  });

  it('steers a continuation along the concept (both stream and differ; a long run cancels; bad input gets a message) and ablates it against random ablations', async () => {
    const panel = page.locator('[data-testid=interventions-panel]');
    const interventions = () => page.evaluate(() => window.__atlas!.interventions);
    const refused = async (pattern: RegExp, button = 'steer-run') => {
      await panel.locator(`[data-testid=${button}]`).click();
      // Each request clears the last one's message: this waits for this request's.
      await page.waitForFunction((source) => new RegExp(source).test(window.__atlas!.interventions.problem ?? ''), pattern.source, { polling: 50 });
      assert.match((await interventions()).problem!, pattern);
      assert.match(await panel.locator('[data-testid=steer-problem]').innerText(), pattern);
    };
    const finished = (kind: 'steering' | 'ablation') => runEnded(page, kind);
    await panel.scrollIntoViewIfNeeded();
    await refused(/The prompt is empty/);
    assert.equal((await interventions()).steering, null, 'nothing ran');

    await panel.locator('[data-testid=steer-prompt]').fill('The ship sailed out of the harbour and the');
    assert.equal(await panel.locator('[data-testid=steer-kind]').inputValue(), 'concept');
    await panel.locator('[data-testid=steer-alpha]').fill('8');
    await panel.locator('[data-testid=steer-tokens]').fill('20');
    await panel.locator('[data-testid=steer-watch]').fill('sea, ship, whale');
    await panel.locator('[data-testid=steer-run]').click();
    await finished('steering');
    const done = (await interventions()).steering!;
    console.log(`steering: ${JSON.stringify(done)}`);
    assert.equal(done.end, 'done');
    assert.equal(done.direction, 'concept "middle tokens"');
    assert.ok(done.streamed.unsteered > 0 && done.streamed.steered > 0, 'both continuations streamed');
    assert.ok(done.unsteered.length > 0 && done.steered.length > 0);
    assert.notEqual(done.steered, done.unsteered, 'α 8 along the concept changes the greedy continuation');
    assert.ok(done.kl !== null && done.kl > 0, `KL ${done.kl}`);
    assert.equal(await panel.locator('[data-testid=steer-steered]').innerText(), `The ship sailed out of the harbour and the${done.steered}`);
    await panel.locator('[data-testid=steer-heldout]').waitFor();
    // The watched words' rise over the held-out contexts, against 20 random directions of the same α.
    const watched = done.watched!;
    assert.deepEqual(watched.tokens, [' sea', ' ship', ' whale']);
    assert.equal(watched.controls, 20);
    assert.ok(Number.isFinite(watched.rise) && Number.isFinite(watched.randomMean), JSON.stringify(watched));
    assert.ok(watched.pT > 0 && watched.pT <= 1 && watched.pRank >= 1 / 21 && watched.pRank <= 1, JSON.stringify(watched));
    assert.match(await panel.locator('[data-testid=steer-significance]').innerText(), /against 20 random directions of the same α: .* Larger than random: t -?\d/);
    await panel.screenshot({ path: join(outputDir, 'directions-10-text-steering.png') });
    await panel.locator('[data-testid=steer-watch]').fill('Ishmaelite');
    await refused(/"Ishmaelite" is \d GPT-2 tokens \(as " Ishmaelite" inside a sentence\): watch comma-separated words of one token each/);
    assert.deepEqual((await interventions()).steering, done, 'the run on screen stays');
    await panel.locator('[data-testid=steer-watch]').fill('');

    // Bad input: a message, and the run on screen stays.
    await panel.locator('[data-testid=steer-alpha]').fill('a lot');
    await refused(/α must be a number; got "a lot"/);
    await panel.locator('[data-testid=steer-alpha]').fill('8');
    // The layer select starts at the atlas's layer, where the concept was learnt.
    const atlasLayer = await panel.locator('[data-testid=steer-layer]').inputValue();
    assert.equal(done.layer, atlasLayer);
    const other = (await panel.locator('[data-testid=steer-layer] option').allInnerTexts()).find((name) => name !== atlasLayer)!;
    await panel.locator('[data-testid=steer-layer]').selectOption(other);
    await refused(new RegExp(`is a direction of ${atlasLayer.replace(/\./g, '\\.')}, not of ${other.replace(/\./g, '\\.')}`));
    assert.deepEqual((await interventions()).steering, done, 'the run on screen stays');
    await panel.locator('[data-testid=steer-layer]').selectOption(atlasLayer);

    // A long run cancels part way; what streamed stays.
    await panel.locator('[data-testid=steer-tokens]').fill('200');
    await panel.locator('[data-testid=steer-run]').click();
    // This run, not the one before it: a new id, running, with a few tokens streamed.
    await page.waitForFunction(
      (before) => {
        const run = window.__atlas!.interventions.steering;
        return run !== null && run.id !== before && run.end === 'running' && run.streamed.steered >= 3;
      },
      done.id,
      { timeout: 60_000, polling: 20 },
    );
    // The button stays put while the text streams below it (the sidebar does not scroll-anchor): a click lands at once.
    await panel.locator('[data-testid=steer-cancel]').click();
    await finished('steering');
    const cancelled = (await interventions()).steering!;
    assert.equal(cancelled.end, 'cancelled');
    assert.ok(cancelled.streamed.steered >= 3 && cancelled.streamed.steered < 200, JSON.stringify(cancelled.streamed));
    assert.equal(cancelled.kl, null);
    assert.equal((await interventions()).problem, null, 'a cancel is not a failure');

    // Ablation: zeroing needs a neuron; projecting the concept out is tested against 20 random projections.
    await panel.locator('[data-testid=ablate-mode]').selectOption('zero');
    await refused(/Zero-ablation sets a neuron/, 'ablate-run');
    await panel.locator('[data-testid=ablate-mode]').selectOption('project');
    await panel.locator('[data-testid=ablate-contexts]').fill('4');
    await panel.locator('[data-testid=ablate-run]').click();
    await finished('ablation');
    const ablation = (await interventions()).ablation!;
    console.log(`ablation: ${JSON.stringify(ablation)}`);
    assert.equal(ablation.end, 'done');
    assert.equal(ablation.controls, 20);
    assert.ok(Number.isFinite(ablation.increase) && Number.isFinite(ablation.randomMean), JSON.stringify(ablation));
    assert.ok(ablation.pT! > 0 && ablation.pT! <= 1);
    assert.match(await panel.locator('[data-testid=ablate-result]').innerText(), /Larger than random: t -?\d/);
    // Setting the concept to its mean (x − (x·v − m)v) is another ablation than projecting it out (m is not 0 here).
    await panel.locator('[data-testid=ablate-mode]').selectOption('mean');
    await panel.locator('[data-testid=ablate-run]').click();
    await runEnded(page, 'ablation', ablation.id);
    const meaned = (await interventions()).ablation!;
    console.log(`ablation, set to its mean: ${JSON.stringify(meaned)}`);
    assert.deepEqual([meaned.end, meaned.mode, meaned.controls], ['done', 'mean', 20]);
    assert.ok(Number.isFinite(meaned.increase) && meaned.increase !== ablation.increase, JSON.stringify(meaned));
    assert.match(await panel.locator('[data-testid=ablate-result]').innerText(), /Setting concept "middle tokens" at h\.2\.mlp\.act to its mean/);
    // Scoring only some words' predictions: fewer predictions, the same 20 controls; a word of several tokens is refused.
    await panel.locator('[data-testid=ablate-mode]').selectOption('project');
    await panel.locator('[data-testid=ablate-watch]').fill('Ishmaelite');
    await refused(/"Ishmaelite" is \d GPT-2 tokens/, 'ablate-run');
    assert.equal((await interventions()).ablation!.id, meaned.id, 'the ablation on screen stays');
    await panel.locator('[data-testid=ablate-watch]').fill('the, and, of');
    await panel.locator('[data-testid=ablate-run]').click();
    await runEnded(page, 'ablation', meaned.id);
    const words = (await interventions()).ablation!;
    console.log(`ablation, the predictions of the, and, of: ${JSON.stringify(words)}`);
    assert.deepEqual([words.end, words.watch, words.controls], ['done', ['the', 'and', 'of'], 20]);
    assert.ok(words.predictions! > 0 && words.predictions! < meaned.predictions!, JSON.stringify([words.predictions, meaned.predictions]));
    assert.match(await panel.locator('[data-testid=ablate-result]').innerText(), /\d+ predictions of the, and, of\)/);
    await panel.locator('[data-testid=ablate-watch]').fill('');
    // On texts the user types instead of the atlas's: two paragraphs, every token of them predicted once.
    const typed = ['The ship sailed out of the harbour and the crew watched the sea.', 'A whale rose beside the boat, and the sailors cheered.'];
    await panel.locator('[data-testid=ablate-texts]').fill(typed.join('\n\n'));
    await panel.locator('[data-testid=ablate-run]').click();
    await runEnded(page, 'ablation', words.id);
    const onTexts = (await interventions()).ablation!;
    console.log(`ablation on typed texts: ${JSON.stringify(onTexts)}`);
    assert.deepEqual([onTexts.end, onTexts.texts, onTexts.controls], ['done', true, 20]);
    assert.ok(onTexts.predictions! > 20 && onTexts.predictions! < 40, `the two sentences' tokens: ${onTexts.predictions}`);
    assert.match(await panel.locator('[data-testid=ablate-result]').innerText(), /contexts of your texts/);
    await panel.screenshot({ path: join(outputDir, 'directions-11-text-ablation.png') });
    await panel.locator('[data-testid=ablate-texts]').fill('');

    // Words: what the logits read as the watched words, at a residual layer: a direction the test must see.
    await panel.locator('[data-testid=steer-kind]').selectOption('words');
    await panel.locator('[data-testid=steer-words]').fill('sea, ship, whale');
    await refused(/lives in the residual stream/);
    await panel.locator('[data-testid=steer-layer]').selectOption('h.3');
    await panel.locator('[data-testid=steer-alpha]').fill('4');
    await panel.locator('[data-testid=steer-tokens]').fill('10');
    await panel.locator('[data-testid=steer-watch]').fill('sea, ship, whale');
    await panel.locator('[data-testid=steer-run]').click();
    await runEnded(page, 'steering', cancelled.id);
    const towards = (await interventions()).steering!;
    console.log(`steering towards words: ${JSON.stringify(towards)}`);
    assert.equal(towards.end, 'done');
    assert.equal(towards.direction, 'words "sea, ship, whale"');
    const rise = towards.watched!;
    assert.ok(rise.rise > 0 && rise.pT < 0.01 && rise.pRank < 0.05, `the watched words rise beyond random: ${JSON.stringify(rise)}`);
  });

  it('compares neurons with random directions, studies them blind, and measures polysemanticity on GPT-2', async () => {
    await versusAndStudy(page, 'directions-08-text-study', 4);
    assert.equal((await page.evaluate(() => window.__atlas!.versus))!.labels, 'the recorded token');
    await polysemanticity(page);
    await page.locator('[data-testid=poly-clusters]').screenshot({ path: join(outputDir, 'directions-09-text-polysemanticity.png') });
  });
});
