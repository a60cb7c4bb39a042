import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_ATLAS_PARAMS, withPreviews, type Atlas } from '../../src/compute/atlas';
import { pooledRecording } from '../compute/recorded';
import { cosine } from '../../src/compute/directions/vectors';
import type { ConceptTcavOptions } from '../../src/compute/directions/concept';
import { nodeModelServiceDeps } from '../../src/cli/nodeServices';
import { bundledSample, DEFAULT_MODEL_DIR } from '../../src/cli/buildAtlas';
import { artifactsFromDirectory } from '../../src/cli/nodeIo';
import { hashFloats } from '../../src/featureVis/cache';
import { createRng, gaussian } from '../../src/lib/rng';
import { classGradients } from '../../src/model/directions/classGradients';
import { nextTokenGradients } from '../../src/model/directions/textGradients';
import { ImageModel } from '../../src/model/image/imageModel';
import { preparedInputs } from '../../src/model/image/modelInputs';
import { createComputeService } from '../../src/workers/computeService';
import { createModelService } from '../../src/workers/modelService';
import type { CallContext } from '../../src/workers/rpc';

const context = (): CallContext => ({ signal: new AbortController().signal, progress: () => {} });

/** A recording's stats hash and begin with its table's values, as recorded. */
function expectStatsOfTable({ stats, table }: { stats: { digest: string; head: number[]; seconds: number }; table: { values: Float32Array; count: number; dim: number } }) {
  const values = table.values.subarray(0, table.count * table.dim);
  expect(stats.digest).toBe(hashFloats(values));
  expect(stats.head).toEqual(Array.from(values.subarray(0, stats.head.length)));
  expect(stats.head.length).toBeGreaterThan(0);
  expect(stats.seconds).toBeGreaterThan(0);
}

/** N points of dim D: the first `planted` rows are shifted along a unit direction u; labels say which. */
function plantedTable(n: number, dim: number, planted: number, seed: number) {
  const random = createRng(seed);
  const u = Float32Array.from({ length: dim }, () => gaussian(random));
  const norm = Math.hypot(...u);
  u.forEach((v, k) => (u[k] = v / norm));
  const values = Float32Array.from({ length: n * dim }, () => gaussian(random));
  for (let r = 0; r < planted; r++) for (let k = 0; k < dim; k++) values[r * dim + k] += 3 * u[k];
  return { values, u };
}

describe('concepts through a rebuild', () => {
  it('keeps the examples of the concepts the page carries over to the new atlas, and only those', async () => {
    const service = createComputeService();
    const { values, u } = plantedTable(300, 8, 60, 2);
    const params = { ...DEFAULT_ATLAS_PARAMS, iterations: 10, gridSizes: [6] };
    const first = await service.layoutAtlas(context(), pooledRecording(values.slice(), 300, 8), params);
    const points = Array.from({ length: 60 }, (_, i) => i);
    for (const id of ['kept', 'dropped']) {
      service.learnConcept(context(), first.layout, { id, positives: { kind: 'points', points }, negatives: { kind: 'rest' }, method: 'difference-of-means', seed: 0 });
    }
    const second = await service.layoutAtlas(context(), pooledRecording(values.slice(), 300, 8), params, ['kept']);
    const aligned = Float32Array.from({ length: 10 * 8 }, (_, i) => u[i % 8]);
    const options = { method: 'difference-of-means' as const, runs: 20, seed: 0, classesTested: 1 };
    expect(service.conceptTcav(context(), second.layout, 'kept', aligned, 10, options).score).toBe(1);
    expect(() => service.conceptTcav(context(), second.layout, 'dropped', aligned, 10, options)).toThrow(/learn it again/);
    expect(() => service.conceptTcav(context(), first.layout, 'kept', aligned, 10, options)).toThrow();
  });
});

describe('the compute worker\'s concept service', () => {
  const n = 400;
  const dim = 16;
  const { values, u } = plantedTable(n, dim, 80, 5);
  const service = createComputeService();
  let atlas: Atlas;
  let layout: number;
  beforeAll(async () => {
    const recorded = pooledRecording(values.slice(), n, dim);
    const laid = await service.layoutAtlas(context(), recorded, { ...DEFAULT_ATLAS_PARAMS, iterations: 20, gridSizes: [10] });
    ({ layout } = laid);
    atlas = withPreviews(laid.atlas, recorded);
  });

  it('learns a planted concept from points against the rest: direction recovered, held out accuracy high', () => {
    const points = Array.from({ length: 80 }, (_, i) => i);
    for (const method of ['difference-of-means', 'logistic'] as const) {
      const fit = service.learnConcept(context(), layout, { id: method, positives: { kind: 'points', points }, negatives: { kind: 'rest' }, method, seed: 0 });
      expect(cosine(fit.direction, u)).toBeGreaterThan(0.95);
      // A shift of 3 standard deviations: the best threshold misclassifies Φ(-1.5) ≈ 6.7% of each class.
      expect(fit.accuracy).toBeGreaterThan(0.88);
      expect([fit.positives, fit.negatives, fit.folds]).toEqual([80, 320, 5]);
    }
    expect(atlas.points.input).toHaveLength(n);
  });

  it('ranks inputs at both ends of a direction as a brute force does', () => {
    const { top, bottom } = service.rankAlong(context(), layout, u, 5);
    const scores = Array.from({ length: n }, (_, r) => [r, u.reduce((s, v, k) => s + v * values[r * dim + k], 0)] as const);
    const sorted = [...scores].sort((a, b) => b[1] - a[1]);
    expect(top.map((p) => p.row)).toEqual(sorted.slice(0, 5).map(([r]) => r));
    expect(bottom.map((p) => p.row)).toEqual(sorted.slice(-5).reverse().map(([r]) => r));
    expect(bottom[0].score).toBeCloseTo(sorted[n - 1][1], 4);
  });

  it('TCAV: gradients aligned with the concept score 1 and are significant; random gradients are not', () => {
    const grads = new Float32Array(30 * dim);
    const random = createRng(9);
    for (let r = 0; r < 30; r++) for (let k = 0; k < dim; k++) grads[r * dim + k] = u[k] + 0.2 * gaussian(random);
    const aligned = service.conceptTcav(context(), layout, 'difference-of-means', grads, 30, { method: 'difference-of-means', runs: 20, seed: 0, classesTested: 1 });
    expect(aligned.score).toBe(1);
    expect(aligned.significant).toBe(true);
    const noise = Float32Array.from({ length: 30 * dim }, () => gaussian(random));
    const unrelated = service.conceptTcav(context(), layout, 'difference-of-means', noise, 30, { method: 'difference-of-means', runs: 20, seed: 0, classesTested: 1 });
    expect(unrelated.score).toBeGreaterThan(0.2);
    expect(unrelated.score).toBeLessThan(0.8);
    expect(() => service.conceptTcav(context(), layout, 'unknown', grads, 30, { method: 'logistic', runs: 20, seed: 0, classesTested: 1 })).toThrow(/learn it again/);
  });

  it('TCAV learns its CAVs once per concept and settings: each class scores the same ones; new settings or examples learn new ones', () => {
    const random = createRng(11);
    const noisy = (k: number) => Float32Array.from({ length: 30 * dim }, (_, i) => u[i % dim] * k + gaussian(random));
    const [g1, g2] = [noisy(0.3), noisy(-0.3)];
    const settings = { method: 'logistic', runs: 20, seed: 0, classesTested: 2 } as const;
    const tcav = (g: Float32Array, options: ConceptTcavOptions = settings) => service.conceptTcav(context(), layout, 'logistic', g.slice(), 30, options);
    const first = tcav(g1);
    expect(tcav(g2).randomScores).not.toEqual(first.randomScores);
    // The second class scored the CAVs the first one learnt: asked again, the first class gets what it got.
    expect(tcav(g1)).toEqual(first);
    const reseeded = tcav(g1, { ...settings, runs: 10, seed: 3 });
    expect(reseeded.conceptScores).toHaveLength(10);
    expect(reseeded.randomScores).not.toEqual(first.randomScores.slice(0, 10));
    // The concept learnt again from other points: its examples, and so its CAVs, are new.
    service.learnConcept(context(), layout, { id: 'logistic', positives: { kind: 'points', points: Array.from({ length: 80 }, (_, i) => 100 + i) }, negatives: { kind: 'rest' }, method: 'logistic', seed: 0 });
    expect(tcav(g1).conceptScores).not.toEqual(first.conceptScores);
  });

  it('neurons against random directions run on the atlas\'s table, with labels per point or none', async () => {
    const labels = Int32Array.from({ length: n }, (_, r) => (r < 80 ? 1 : 0));
    const labelled = await service.versusRandom(context(), layout, labels, { k: 8, topN: 10, seed: 0, rotations: 3 });
    expect(labelled.neurons).toBe(8);
    expect(labelled.directions).toHaveLength(16);
    expect(labelled.dissection?.rotated).toHaveLength(3);
    const unlabelled = await service.versusRandom(context(), layout, 'key', { k: 8, topN: 10, seed: 0, rotations: 3 });
    expect(unlabelled.dissection).toBeNull();
    expect(unlabelled.summary.neuron.purity).toBeNull();
    await expect(service.versusRandom(context(), layout, labels.subarray(1), { k: 8 })).rejects.toThrow(/399 labels for 400 points/);
  });

  it('attribution is activation · gradient per asked point', () => {
    const grads = Float32Array.from({ length: 3 * dim }, (_, i) => (i % 7) - 3);
    const out = service.attribution(context(), layout, [4, 0, 399], grads);
    [4, 0, 399].forEach((p, k) => {
      let dot = 0;
      for (let d = 0; d < dim; d++) dot += values[p * dim + d] * grads[k * dim + d];
      expect(out[k]).toBeCloseTo(dot, 4);
    });
    expect(() => service.attribution(context(), layout, [400], grads.subarray(0, dim))).toThrow(/not in the atlas/);
  });

  it('refuses requests about another layout than the one it holds (a cancelled rebuild), and forgets removed concepts', async () => {
    expect(() => service.rankAlong(context(), layout + 1, u, 5)).toThrow(/Build the atlas again/);
    const points = Array.from({ length: 10 }, (_, i) => i);
    service.learnConcept(context(), layout, { id: 'gone', positives: { kind: 'points', points }, negatives: { kind: 'rest' }, method: 'difference-of-means', seed: 0 });
    service.forgetConcept(context(), 'gone');
    expect(() => service.conceptTcav(context(), layout, 'gone', new Float32Array(2 * dim), 2, { method: 'difference-of-means', runs: 2, seed: 0, classesTested: 1 })).toThrow(/learn it again/);
  });
});

describe('the model worker\'s gradients and concept recordings', () => {
  const service = createModelService(nodeModelServiceDeps());
  let model: ImageModel;
  let rec: Awaited<ReturnType<typeof service.record>>;
  let text: Awaited<ReturnType<typeof service.record>>;
  beforeAll(async () => {
    await service.init(context(), { backend: 'wasm', threads: null });
    model = await ImageModel.fromArtifacts((await artifactsFromDirectory(DEFAULT_MODEL_DIR)).artifacts, 'check');
  }, 60_000);
  afterAll(() => model?.dispose());

  it('image: class gradients at points equal classGradients on the same inputs (positions and pooled), without leaking tensors', async () => {
    await service.loadModel(context(), { kind: 'default' });
    rec = await service.record(context(), { inputs: { kind: 'sample' }, layer: 'conv3', params: { ...DEFAULT_ATLAS_PARAMS, samplesPerInput: 4 } });
    expect(rec.stats).toMatchObject({ count: rec.names.length, unit: 'images' });
    expectStatsOfTable(rec);
    const input = [0, 0, 7, 12];
    const position = [rec.table.position[0], -1, rec.table.position[7 * 4 + 1], -1];
    const before = tf.memory().numTensors;
    const result = await service.gradients(context(), { recording: rec.recording, layer: 'conv3', target: { kind: 'class', classIndex: 1 }, input, position });
    expect(tf.memory().numTensors).toBe(before);
    const prepared = await preparedInputs(model, await bundledSample(), rec.names, [0, 7, 12]);
    const all = await classGradients(model, 'conv3', prepared, 1, { sites: 'all' });
    const pooled = await classGradients(model, 'conv3', prepared, 1, { sites: 'pooled' });
    const dim = 32;
    const row = (a: Float32Array, r: number) => Array.from(a.subarray(r * dim, (r + 1) * dim));
    const close = (a: number[], b: number[]) => a.forEach((v, k) => expect(v).toBeCloseTo(b[k], 4));
    close(row(result.gradients, 0), row(all, 0 * 49 + position[0]));
    close(row(result.gradients, 1), row(pooled, 0));
    close(row(result.gradients, 2), row(all, 1 * 49 + position[2]));
    close(row(result.gradients, 3), row(pooled, 2));
    expect(result.target).toBe('Trouser');
  }, 120_000);

  it('image: a concept folder is recorded pooled at the layer, without leaking tensors', async () => {
    const sample = await bundledSample();
    const images = await Promise.all(
      [0, 1, 2].map(async (i) => {
        const raw = await sample.load(i);
        const sharp = (await import('sharp')).default;
        const png = await sharp(Buffer.from(raw.data), { raw: { width: raw.width, height: raw.height, channels: raw.channels } }).png().toBuffer();
        return { name: `concept/${i}.png`, label: null, blob: new Blob([new Uint8Array(png)]) };
      }),
    );
    images.push({ name: 'concept/broken.png', label: null, blob: new Blob([new Uint8Array([1, 2, 3])]) });
    const before = tf.memory().numTensors;
    const out = await service.conceptActivations(context(), rec.recording, { kind: 'images', images }, 'conv3', { samplesPerInput: 'pooled', seed: 0 });
    expect(tf.memory().numTensors).toBe(before);
    expect([out.count, out.dim, out.values.length]).toEqual([3, 32, 96]);
    // Sampled as the atlas was: 4 positions per image.
    const sampled = await service.conceptActivations(context(), rec.recording, { kind: 'images', images: images.slice(0, 3) }, 'conv3', { samplesPerInput: 4, seed: 0 });
    expect(sampled.count).toBe(12);
    expect(out.errors.map((e) => e.name)).toEqual(['concept/broken.png']);
  }, 120_000);

  it('image: polysemanticity of the atlas\'s layer, sorted by score, its examples in atlas terms, without leaking tensors', async () => {
    const before = tf.memory().numTensors;
    const poly = await service.polysemanticity(context(), rec.recording, 'conv3', null, 3);
    expect(tf.memory().numTensors).toBe(before);
    expect(poly.threshold).toBe(0.7);
    expect(poly.neurons).toHaveLength(32);
    const scores = poly.neurons.map((x) => x.polysemanticity);
    expect(scores).toEqual([...scores].sort((a, b) => b - a));
    expect(poly.histogram.reduce((a, b) => a + b, 0)).toBe(32);
    for (const neuron of poly.neurons) {
      for (const c of neuron.clusters) {
        expect(c.top[0].activation).toBeGreaterThanOrEqual(0.75 * neuron.maxActivation - 1e-6);
        expect(c.members.input.every((i) => i >= 0 && i < rec.names.length)).toBe(true);
        expect(c.members.position.every((p) => p >= 0 && p < 49)).toBe(true);
      }
    }
    await expect(service.polysemanticity(context(), rec.recording, 'pool2', null, 3)).rejects.toThrow(/pool/i);
  }, 180_000);

  it('text: a next token\'s gradients on windows cut at the point equal those on the whole window (the model is causal)', async () => {
    await service.loadModel(context(), { kind: 'default-text' });
    text = await service.record(context(), { inputs: { kind: 'text', texts: [{ name: 'a', label: null, text: 'Call me Ishmael. Some years ago, never mind how long precisely, I went to sea.' }] }, layer: 'h.1.mlp.act', params: { ...DEFAULT_ATLAS_PARAMS, samplesPerInput: 'all' } });
    const before = tf.memory().numTensors;
    const result = await service.gradients(context(), { recording: text.recording, layer: 'h.1.mlp.act', target: { kind: 'token', text: ' sea' }, input: [0, 0], position: [3, 9] });
    expect(tf.memory().numTensors).toBe(before);
    const { encode } = await import('../../src/model/text/tokenizer');
    const ids = Int32Array.from([50256, ...encode('Call me Ishmael. Some years ago, never mind how long precisely, I went to sea.')]);
    // Every token through the model counts, <|endoftext|> too; token 0's row is not recorded.
    expect(text.stats).toMatchObject({ count: ids.length, unit: 'tokens' });
    expect(text.table.count).toBe(ids.length - 1);
    expectStatsOfTable(text);
    const textModel = (await import('../../src/model/text/textModel')).TextModel;
    const deps = nodeModelServiceDeps();
    const direct = await TextModelGradients(textModel, deps, ids);
    const dim = 256;
    for (let k = 0; k < 2 * dim; k++) expect(result.gradients[k]).toBeCloseTo(direct[k], 4);
    await expect(service.gradients(context(), { recording: text.recording, layer: 'h.1.mlp.act', target: { kind: 'token', text: ' Ishmael' }, input: [0], position: [3] })).rejects.toThrow(/tokens/);
    // Points of an older recording (the atlas on screen after a cancelled rebuild) are refused, not mixed up.
    await expect(service.gradients(context(), { recording: text.recording - 1, layer: 'h.1.mlp.act', target: { kind: 'token', text: ' sea' }, input: [0], position: [3] })).rejects.toThrow(/not the one last recorded/);
  }, 120_000);

  it('text: polysemanticity of an MLP layer over the atlas\'s windows, without leaking tensors; other layers say why not', async () => {
    const before = tf.memory().numTensors;
    const poly = await service.polysemanticity(context(), text.recording, 'h.1.mlp.act', 0.5, 2);
    expect(tf.memory().numTensors).toBe(before);
    expect(poly.neurons).toHaveLength(256);
    const live = poly.neurons.filter((x) => x.examples > 0);
    expect(live.length).toBeGreaterThan(100);
    for (const neuron of live) for (const c of neuron.clusters) expect(c.members.input.every((i) => i === 0)).toBe(true);
    await expect(service.polysemanticity(context(), text.recording, 'h.1', 0.5, 2)).rejects.toThrow(/MLP/);
  }, 120_000);
});

/** The whole-window gradients from a separately loaded built-in text model. */
async function TextModelGradients(
  textModel: typeof import('../../src/model/text/textModel').TextModel,
  deps: ReturnType<typeof nodeModelServiceDeps>,
  ids: Int32Array,
): Promise<Float32Array> {
  const model = await textModel.fromFiles(await deps.loadDefaultTextModel('small'), 'check');
  try {
    const { encode } = await import('../../src/model/text/tokenizer');
    return await nextTokenGradients(model, 'h.1.mlp.act', [ids, ids], [3, 9], encode(' sea')[0]);
  } finally {
    model.dispose();
  }
}
