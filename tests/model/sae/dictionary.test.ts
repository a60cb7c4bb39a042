import { beforeAll, describe, expect, it } from 'vitest';
import { neuronsVersusRandom } from '../../../src/compute/directions/versusRandom';
import { chooseBackend } from '../../../src/model/backend';
import { LayerDictionary, type DictionaryTarget } from '../../../src/model/sae/dictionary';
import { DEFAULT_MAX_EXAMPLES, EXAMPLE_FRACTION } from '../../../src/model/directions/polysemanticity';
import { encodeSae } from '../../../src/model/sae/encode';
import { measureLatentPolysemanticity } from '../../../src/model/sae/latentPolysemanticity';
import { latentColumn } from '../../../src/model/sae/sae';
import { readSaeLens } from '../../../src/model/sae/saelens';
import { plantedRows } from './planted';

beforeAll(async () => {
  await chooseBackend({ node: true });
});

const WIDTH = 16;
const TARGET: DictionaryTarget = { layer: 'dense', width: WIDTH, modality: 'image', modelName: 'planted' };
const hash = (v: Float32Array) => String(v.reduce((s, x) => s + x, 0));

describe('LayerDictionary', () => {
  const planted = plantedRows({ directions: 48, width: WIDTH, active: 3, rows: 1500, seed: 3 });
  const dictionary = new LayerDictionary(planted.rows, TARGET, hash);
  beforeAll(async () => {
    await dictionary.train({ architecture: 'topk', latents: 64, k: 4, epochs: 2, seed: 0 });
  }, 60_000);

  it("gives every row's active latents as the SAE it holds encodes them, and copies", async () => {
    const held = readSaeLens(dictionary.save(), { modality: 'image', target: { layer: TARGET.layer, width: WIDTH } });
    const expected = await encodeSae(held, planted.rows);
    const got = dictionary.latentActivations();
    expect(got.count).toBe(planted.count);
    expect(got.dSae).toBe(64);
    expect(Array.from(got.rowStart)).toEqual(Array.from(expected.rowStart));
    expect(Array.from(got.latent)).toEqual(Array.from(expected.latent));
    got.value.forEach((v, i) => expect(v).toBeCloseTo(expected.value[i], 5));
    expect(Array.from(got.decoder!)).toEqual(Array.from(held.weights.W_dec));
    // The page transfers what it gets to the compute worker: the dictionary's own arrays stay whole.
    got.value.fill(0);
    got.decoder!.fill(0);
    got.rowStart.fill(0);
    got.latent.fill(-1);
    const again = dictionary.latentActivations();
    expect(Array.from(again.rowStart)).toEqual(Array.from(expected.rowStart));
    expect(Array.from(again.latent)).toEqual(Array.from(expected.latent));
    expect(again.value.some((v) => v > 0)).toBe(true);
    expect(again.decoder!.some((v) => v !== 0)).toBe(true);
  });

  it("a latent's top rows are those where its column of the activations is largest (brute force)", () => {
    const latents = dictionary.latentActivations();
    const latent = latents.latent[0];
    const column = latentColumn(latents, latent);
    const order = Array.from(column.keys()).sort((a, b) => column[b] - column[a]);
    const top = dictionary.latentTop(latent);
    expect(top.values[0]).toBeCloseTo(column[order[0]], 5);
    top.rows.forEach((row, i) => expect(column[row]).toBeCloseTo(column[order[i]], 5));
    // Its histogram: the rows where it fires binned from their least to their largest value, the rest silent.
    const fired = Array.from(column).filter((v) => v > 0);
    expect(top.histogram.counts.reduce((a, b) => a + b, 0)).toBe(fired.length);
    expect(top.histogram.silent).toBe(planted.count - fired.length);
    expect(top.histogram.min).toBeCloseTo(Math.min(...fired), 6);
    expect(top.histogram.max).toBeCloseTo(Math.max(...fired), 6);
    const width = (top.histogram.max - top.histogram.min) / 30;
    expect(top.histogram.counts[0]).toBe(fired.filter((v) => v < top.histogram.min + width).length);
  });

  it('scores its latents beside neurons and random directions, as the page runs the comparison', async () => {
    const labels = Int32Array.from({ length: planted.count }, (_, r) => r % 3);
    const result = await neuronsVersusRandom(planted.rows, planted.count, WIDTH, labels, { k: 8, topN: 10, seed: 1, rotations: 2, latents: dictionary.latentActivations() });
    expect(result.dictionary!.latents).toBe(Math.min(8, result.dictionary!.liveLatents));
    expect(result.directions.filter((d) => d.kind === 'latent')).toHaveLength(result.dictionary!.latents);
    expect(result.summary.latent!.coherence.count).toBe(result.dictionary!.latents);
    expect(result.latentTests!.versusNeurons.coherence).not.toBeNull();
    expect(result.dissection!.latent!.units).toBe(64);
  });

  it("measures the latents' polysemanticity as measureLatentPolysemanticity does on its rows, with progress", async () => {
    const held = readSaeLens(dictionary.save(), { modality: 'image', target: { layer: TARGET.layer, width: WIDTH } });
    const options = { threshold: 0.5, minMembers: 3 };
    const steps: number[] = [];
    const view = await dictionary.polysemanticity({ ...options, onProgress: (p) => p.stage === 'measure' && steps.push(p.done) });
    const direct = await measureLatentPolysemanticity(held, planted.rows, await encodeSae(held, planted.rows), { ...options, fraction: EXAMPLE_FRACTION, maxExamples: DEFAULT_MAX_EXAMPLES });
    expect(Array.from(view.polysemanticity)).toEqual(direct.latents.map((l) => l.polysemanticity));
    expect(view.histogram).toEqual(direct.histogram);
    expect(view.histogram.reduce((a, b) => a + b, 0)).toBe(64);
    expect([view.threshold, view.minMembers]).toEqual([0.5, 3]);
    expect(steps.at(-1)).toBe(64);
    expect(steps.every((d, k) => d >= (steps[k - 1] ?? 0) && d <= 64)).toBe(true);
  });

  it('refuses before anything is held, with the reason', () => {
    const empty = new LayerDictionary(planted.rows, TARGET, hash);
    expect(() => empty.latentActivations()).toThrow(/No SAE is trained or open/);
  });
});
