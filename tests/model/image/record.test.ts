import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { ImageModel } from '../../../src/model/image/imageModel';
import { chooseBackend } from '../../../src/model/backend';
import { prepareImage } from '../../../src/model/image/preprocess';
import { recordActivations } from '../../../src/model/image/recordImages';
import { ModelUseError, samplePositions } from '../../../src/model/recordTable';
import { memoryProvider, randomImage, saveArtifacts, smallCnnArtifacts } from '../helpers';

let artifacts: tf.io.ModelArtifacts;
beforeAll(async () => {
  await chooseBackend({ node: true });
  artifacts = await smallCnnArtifacts();
});

const images = (n: number) => Array.from({ length: n }, (_, i) => randomImage(16 + (i % 3), 12, i % 2 ? 3 : 4, i));

describe('ImageModel', () => {
  it('lists recordable layers with shapes and picks the last spatial one', async () => {
    const model = await ImageModel.fromArtifacts(artifacts, 'small');
    expect(model.layers.map((l) => [l.name, l.shape])).toEqual([
      ['conv_a', [10, 10, 6]],
      ['pool', [5, 5, 6]],
      ['conv_b', [4, 4, 8]],
      ['flat', [128]],
      ['probs', [3]],
    ]);
    expect(model.defaultLayer).toBe('conv_b');
    expect([model.inputHeight, model.inputWidth, model.inputChannels, model.outputSize]).toEqual([12, 12, 3, 3]);
    model.dispose();
  });

  it('loads and disposes without leaking tensors', async () => {
    const before = tf.memory().numTensors;
    const model = await ImageModel.fromArtifacts(artifacts, 'small');
    model.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('run and classify leak nothing beyond what they return', async () => {
    const model = await ImageModel.fromArtifacts(artifacts, 'small');
    const x = tf.zeros([2, 12, 12, 3]) as tf.Tensor4D;
    const before = tf.memory().numTensors;
    const { activation, probabilities } = model.run(x, 'conv_b');
    expect(activation.shape).toEqual([2, 4, 4, 8]);
    expect(probabilities!.shape).toEqual([2, 3]);
    tf.dispose([activation, probabilities!]);
    model.classify(x).dispose();
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
    model.dispose();
  });

  it('rejects a wrong input shape and an unknown layer with messages', async () => {
    const model = await ImageModel.fromArtifacts(artifacts, 'small');
    const x = tf.zeros([1, 10, 10, 3]) as tf.Tensor4D;
    expect(() => model.run(x, 'conv_b')).toThrow(/10x10x3 but model "small" expects 12x12x3/);
    expect(() => model.run(x, 'nope')).toThrow(ModelUseError);
    expect(() => model.run(x, 'nope')).toThrow(/Layer "nope" cannot be recorded/);
    x.dispose();
    model.dispose();
  });

  it('prepareImage matches channels and ranges without leaking', () => {
    const before = tf.memory().numTensors;
    const { input, pixels } = prepareImage(randomImage(20, 10, 4, 1), { height: 12, width: 12, channels: 1 }, { range: 'symmetric' });
    expect(input.shape).toEqual([12, 12, 1]);
    expect(pixels.shape).toEqual([12, 12, 3]);
    const [min, max] = tf.tidy(() => [input.min().dataSync()[0], input.max().dataSync()[0]]);
    expect(min).toBeGreaterThanOrEqual(-1);
    expect(max).toBeLessThanOrEqual(1);
    tf.dispose([input, pixels]);
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('recordActivations', () => {
  it('records pooled vectors: one row per input, equal to the spatial mean', async () => {
    const model = await ImageModel.fromArtifacts(artifacts, 'small');
    const before = tf.memory().numTensors;
    const imgs = images(5);
    const rec = await recordActivations(model, memoryProvider(imgs), { layer: 'conv_b', samplesPerInput: 'pooled', batchSize: 2 });
    expect(tf.memory().numTensors).toBe(before);
    expect(rec.table.count).toBe(5);
    expect(rec.table.dim).toBe(8);
    expect(Array.from(rec.table.input)).toEqual([0, 1, 2, 3, 4]);
    // brute force for input 3
    const { input } = prepareImage(imgs[3], { height: 12, width: 12, channels: 3 }, model.preprocessing);
    const batch = input.expandDims(0) as tf.Tensor4D;
    const { activation, probabilities } = model.run(batch, 'conv_b');
    const mean = tf.mean(activation, [0, 1, 2]).dataSync();
    for (let k = 0; k < 8; k++) expect(rec.table.values[3 * 8 + k]).toBeCloseTo(mean[k], 4);
    expect(rec.predicted[3]).toBe(probabilities!.argMax(1).dataSync()[0]);
    tf.dispose([input, batch, activation, probabilities!]);
    expect(rec.thumbnails[0].width).toBe(12);
    model.dispose();
  });

  it('samples k seeded positions per input away from the border, with the right vectors', async () => {
    const model = await ImageModel.fromArtifacts(artifacts, 'small');
    const imgs = images(4);
    const rec = await recordActivations(model, memoryProvider(imgs), { layer: 'conv_b', samplesPerInput: 3, seed: 5 });
    expect(rec.table.count).toBe(12);
    expect(rec.table.positionShape).toEqual([4, 4]);
    const xs = Array.from(rec.table.position, (p) => p % 4);
    const ys = Array.from(rec.table.position, (p) => Math.floor(p / 4));
    for (let r = 0; r < 12; r++) {
      expect(xs[r]).toBeGreaterThanOrEqual(1);
      expect(xs[r]).toBeLessThanOrEqual(2);
      expect(ys[r]).toBeGreaterThanOrEqual(1);
      expect(ys[r]).toBeLessThanOrEqual(2);
    }
    const again = await recordActivations(model, memoryProvider(imgs), { layer: 'conv_b', samplesPerInput: 3, seed: 5 });
    expect(Array.from(again.table.position)).toEqual(Array.from(rec.table.position));
    const r = 7;
    const i = rec.table.input[r];
    const { input } = prepareImage(imgs[i], { height: 12, width: 12, channels: 3 }, model.preprocessing);
    const batch = input.expandDims(0) as tf.Tensor4D;
    const { activation, probabilities } = model.run(batch, 'conv_b');
    const grid = activation.arraySync() as number[][][][];
    for (let k = 0; k < 8; k++) expect(rec.table.values[r * 8 + k]).toBeCloseTo(grid[0][ys[r]][xs[r]][k], 4);
    tf.dispose([input, batch, activation, probabilities!]);
    model.dispose();
  });

  it("records every position with 'all'", async () => {
    const model = await ImageModel.fromArtifacts(artifacts, 'small');
    const rec = await recordActivations(model, memoryProvider(images(2)), { layer: 'conv_a', samplesPerInput: 'all' });
    expect(rec.table.count).toBe(2 * 100);
    expect(samplePositions([10, 10], 'all', 0).length).toBe(100);
    expect(Array.from(rec.table.position.subarray(0, 100))).toEqual(Array.from({ length: 100 }, (_, p) => p));
    model.dispose();
  });

  it('samples rows to the memory budget and says so with both counts', async () => {
    const model = await ImageModel.fromArtifacts(artifacts, 'small');
    const rec = await recordActivations(model, memoryProvider(images(6)), { layer: 'conv_a', samplesPerInput: 'all', stream: { maxValues: 100 * 6 } });
    expect(rec.table.count).toBe(100);
    expect(rec.table.totalBeforeSampling).toBe(600);
    expect(rec.notices.join(' ')).toMatch(/Recorded 600 activations; the layout shows a seeded sample of 100, and every unit's statistics and top inputs cover all of them/);
    model.dispose();
  });

  it('skips and lists bad inputs while the good ones go through', async () => {
    const model = await ImageModel.fromArtifacts(artifacts, 'small');
    const before = tf.memory().numTensors;
    const rec = await recordActivations(model, memoryProvider(images(5), [1, 3]), { layer: 'conv_b', samplesPerInput: 2 });
    expect(rec.errors.map((e) => e.name)).toEqual(['img1.png', 'img3.png']);
    expect(rec.names).toEqual(['img0.png', 'img2.png', 'img4.png']);
    expect(rec.table.count).toBe(6);
    expect(Math.max(...rec.table.input)).toBe(2);
    expect(tf.memory().numTensors).toBe(before);
    model.dispose();
  });

  it('records a non-spatial layer pooled, with a notice', async () => {
    const model = await ImageModel.fromArtifacts(artifacts, 'small');
    const rec = await recordActivations(model, memoryProvider(images(3)), { layer: 'flat', samplesPerInput: 4 });
    expect(rec.samplesPerInput).toBe('pooled');
    expect(rec.table.count).toBe(3);
    expect(rec.notices[0]).toMatch(/has no positions/);
    expect(Array.from(rec.table.position)).toEqual([-1, -1, -1]);
    model.dispose();
  });

  it('lists and skips an image that decodes but cannot be prepared, while the rest go through', async () => {
    const model = await ImageModel.fromArtifacts(artifacts, 'small');
    const before = tf.memory().numTensors;
    const good = images(3);
    const truncated = { ...randomImage(16, 12, 3, 9), data: new Uint8Array(10) };
    const provider = memoryProvider([good[0], truncated, good[1], good[2]]);
    const rec = await recordActivations(model, provider, { layer: 'conv_b', samplesPerInput: 'pooled' });
    expect(rec.errors).toEqual([{ name: 'img1.png', reason: expect.stringMatching(/holds 10 bytes, expected 16x12x3/) }]);
    expect(rec.names).toEqual(['img0.png', 'img2.png', 'img3.png']);
    expect(rec.table.count).toBe(3);
    expect(tf.memory().numTensors).toBe(before);
    model.dispose();
  });

  it('records a [T, C] layer per position, and pools it as the mean over T', async () => {
    const sequence = tf.sequential({
      layers: [
        tf.layers.conv2d({ name: 'conv', inputShape: [12, 12, 3], filters: 4, kernelSize: 3, strides: 3, activation: 'relu', kernelInitializer: tf.initializers.glorotUniform({ seed: 4 }) }),
        tf.layers.reshape({ name: 'tokens', targetShape: [16, 4] }),
        tf.layers.dense({ name: 'seq', units: 5, kernelInitializer: tf.initializers.glorotUniform({ seed: 5 }) }),
        tf.layers.flatten({ name: 'flat' }),
        tf.layers.dense({ name: 'probs', units: 3, activation: 'softmax' }),
      ],
    });
    const model = await ImageModel.fromArtifacts(await saveArtifacts(sequence), 'sequence');
    sequence.dispose();
    expect(model.layer('seq')).toEqual({ name: 'seq', shape: [16, 5], positionShape: [16] });
    const imgs = images(3);
    const pooled = await recordActivations(model, memoryProvider(imgs), { layer: 'seq', samplesPerInput: 'pooled' });
    const all = await recordActivations(model, memoryProvider(imgs), { layer: 'seq', samplesPerInput: 'all' });
    expect(pooled.table.count).toBe(3);
    expect(all.table.count).toBe(3 * 16);
    expect(all.table.positionShape).toEqual([16]);
    for (let i = 0; i < 3; i++) {
      const { input } = prepareImage(imgs[i], { height: 12, width: 12, channels: 3 }, model.preprocessing);
      const batch = input.expandDims(0) as tf.Tensor4D;
      const { activation, probabilities } = model.run(batch, 'seq');
      const rows = (activation.arraySync() as number[][][])[0];
      tf.dispose([input, batch, activation, probabilities!]);
      for (let t = 0; t < 16; t++) {
        const r = i * 16 + t;
        expect(all.table.position[r]).toBe(t);
        for (let k = 0; k < 5; k++) expect(all.table.values[r * 5 + k]).toBeCloseTo(rows[t][k], 4);
      }
      for (let k = 0; k < 5; k++) expect(pooled.table.values[i * 5 + k]).toBeCloseTo(rows.reduce((a, row) => a + row[k], 0) / 16, 4);
    }
    model.dispose();
  });

  it('gives clear errors for an empty input set, an unknown layer, all-bad inputs', async () => {
    const model = await ImageModel.fromArtifacts(artifacts, 'small');
    await expect(recordActivations(model, memoryProvider([]), { layer: 'conv_b', samplesPerInput: 1 })).rejects.toThrow(/No inputs to record/);
    await expect(recordActivations(model, memoryProvider(images(1)), { layer: 'dense_9', samplesPerInput: 1 })).rejects.toThrow(/Layer "dense_9"/);
    await expect(recordActivations(model, memoryProvider(images(2), [0, 1]), { layer: 'conv_b', samplesPerInput: 1 })).rejects.toThrow(/None of the 2 inputs could be read/);
    model.dispose();
  });

  it('stops on cancellation without leaking', async () => {
    const model = await ImageModel.fromArtifacts(artifacts, 'small');
    const before = tf.memory().numTensors;
    const controller = new AbortController();
    const run = recordActivations(model, memoryProvider(images(40)), {
      layer: 'conv_b',
      samplesPerInput: 1,
      batchSize: 4,
      signal: controller.signal,
      onProgress: (e) => e.stage === 'record' && e.done >= 8 && controller.abort(),
    });
    await expect(run).rejects.toMatchObject({ name: 'AbortError' });
    expect(tf.memory().numTensors).toBe(before);
    model.dispose();
  });
});
