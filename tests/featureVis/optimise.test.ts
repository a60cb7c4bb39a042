import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { ImageModel } from '../../src/model/image/imageModel';
import { chooseBackend } from '../../src/model/backend';
import { isAbortError } from '../../src/lib/abort';
import { neuronDirections, randomDirections, visualiseDirections } from '../../src/featureVis/optimise';
import { scoreImages } from '../../src/featureVis/objective';
import { smallCnnArtifacts } from '../model/helpers';
import { grayCnnArtifacts } from './helpers';

let model: ImageModel;
let gray: ImageModel;
// Positive directions on a ReLU layer, so each can be reached.
const directions = Float32Array.from(randomDirections(8, 3, 11), Math.abs);

beforeAll(async () => {
  await chooseBackend({ node: true });
  model = await ImageModel.fromArtifacts(await smallCnnArtifacts(), 'small');
  gray = await ImageModel.fromArtifacts(await grayCnnArtifacts(), 'gray');
});

describe('visualiseDirections', () => {
  it('raises every icon’s objective over the steps', async () => {
    const start = await visualiseDirections(model, 'conv_b', directions, { steps: 0, seed: 1 });
    const after = await visualiseDirections(model, 'conv_b', directions, { steps: 24, seed: 1 });
    for (let i = 0; i < 3; i++) expect(after.scores[i]).toBeGreaterThan(start.scores[i] + 0.05);
  });

  it('returns RGBA icons whose scores are the objective of those icons', async () => {
    const r = await visualiseDirections(model, 'conv_b', directions, { steps: 6, seed: 2 });
    expect([r.width, r.height, r.images.length, r.images[0].length]).toEqual([12, 12, 3, 12 * 12 * 4]);
    expect(r.images[0][3]).toBe(255);
    const pixels = new Float32Array(3 * 12 * 12 * 3);
    r.images.forEach((rgba, i) => {
      for (let p = 0; p < 144; p++) for (let c = 0; c < 3; c++) pixels[(i * 144 + p) * 3 + c] = rgba[p * 4 + c] / 255;
    });
    const rescored = await scoreImages(model, 'conv_b', pixels, directions);
    // The icons were rounded to bytes, so the scores agree closely but not exactly.
    r.scores.forEach((s, i) => expect(rescored[i]).toBeCloseTo(s, 1));
  });

  it('is deterministic for a fixed seed and differs for another seed', async () => {
    const options = { steps: 5, seed: 3, batchSize: 2 };
    const a = await visualiseDirections(model, 'conv_b', directions, options);
    const b = await visualiseDirections(model, 'conv_b', directions, options);
    const c = await visualiseDirections(model, 'conv_b', directions, { ...options, seed: 4 });
    expect(a.images.map((im) => Array.from(im))).toEqual(b.images.map((im) => Array.from(im)));
    expect(Array.from(a.scores)).toEqual(Array.from(b.scores));
    expect(Array.from(a.images[0])).not.toEqual(Array.from(c.images[0]));
  });

  it('keeps the best of several tries', async () => {
    const one = await visualiseDirections(model, 'conv_b', directions, { steps: 4, seed: 5, tries: 1 });
    const three = await visualiseDirections(model, 'conv_b', directions, { steps: 4, seed: 5, tries: 3 });
    for (let i = 0; i < 3; i++) expect(three.scores[i]).toBeGreaterThanOrEqual(one.scores[i]);
  });

  it('leaks no tensors, also when cancelled, and reports progress', async () => {
    await visualiseDirections(model, 'conv_b', directions, { steps: 1 });
    const before = tf.memory().numTensors;
    const progress: number[] = [];
    await visualiseDirections(model, 'conv_b', directions, { steps: 16, batchSize: 2, onProgress: (p) => progress.push(p.done / p.total) });
    expect(progress.at(-1)).toBe(1);
    expect(tf.memory().numTensors).toBe(before);
    const controller = new AbortController();
    const run = visualiseDirections(model, 'conv_b', directions, {
      steps: 64,
      signal: controller.signal,
      onProgress: (p) => p.done >= 8 && controller.abort(),
    });
    await expect(run).rejects.toSatisfy(isAbortError);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('visualises neurons and random directions with the same machinery, also on a pooled vector', async () => {
    const neurons = await visualiseDirections(model, 'conv_b', neuronDirections(8, [0, 5]), { steps: 3, site: 'pooled' });
    expect(neurons.images).toHaveLength(2);
    const random = await visualiseDirections(model, 'flat', randomDirections(128, 1, 3), { steps: 3 });
    expect(Number.isFinite(random.scores[0])).toBe(true);
    expect(() => neuronDirections(8, [8])).toThrow(/outside/);
  });

  it('renders one-channel models as grey icons', async () => {
    const r = await visualiseDirections(gray, 'conv', neuronDirections(4, [1]), { steps: 3 });
    const rgba = r.images[0];
    for (let p = 0; p < 100; p++) expect(rgba[p * 4]).toBe(rgba[p * 4 + 2]);
  });

  it('optimises at another size and resamples to the model’s input, square or not', async () => {
    const r = await visualiseDirections(model, 'conv_b', directions.subarray(0, 8), { steps: 3, size: 20 });
    expect([r.width, r.height, r.images[0].length]).toEqual([20, 20, 1600]);
    const wide = await ImageModel.fromArtifacts(await grayCnnArtifacts(8, 12), 'wide');
    for (const backend of ['wasm', 'cpu']) {
      await tf.setBackend(backend);
      const w = await visualiseDirections(wide, 'conv', neuronDirections(4, [2]), { steps: 3, size: 16 });
      expect([w.width, w.height, w.backend]).toEqual([24, 16, backend]);
      expect(Number.isFinite(w.scores[0])).toBe(true);
    }
    await tf.setBackend('wasm');
    wide.dispose();
  });
});
