import * as tf from '@tensorflow/tfjs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_ATLAS_PARAMS } from '../../../src/compute/atlas';
import { randomDirections } from '../../../src/compute/directions/vectors';
import { loadModelForCli } from '../../../src/cli/buildAtlas';
import { folderProvider } from '../../../src/cli/nodeIo';
import { chooseBackend } from '../../../src/model/backend';
import { ImageSession } from '../../../src/model/image/imageSession';
import type { ImageProvider } from '../../../src/model/image/recordImages';
import { loadSampleFromDisk } from '../../../src/model/image/sampleNode';
import { sampleProvider } from '../../../src/model/image/providers';
import { FIXTURES, hasFixtures, SKIP_FIXTURES } from '../../fixtures';

const IMAGES = 120;
let session: ImageSession;

beforeAll(async () => {
  await chooseBackend({ node: true });
  const model = await loadModelForCli('default');
  const all = sampleProvider(await loadSampleFromDisk());
  const some: ImageProvider = { ...all, count: IMAGES };
  const unused = () => {
    throw new Error('not used by this test');
  };
  session = new ImageSession(model, { loadSample: async () => some, loadTextSample: unused, decodeImage: unused, encodePng: async () => '' }, async () => 'test');
  const signal = new AbortController().signal;
  await session.record({ kind: 'sample' }, { layer: 'conv3', params: { ...DEFAULT_ATLAS_PARAMS, samplesPerInput: 'pooled' } }, { signal, onProgress: () => {} });
}, 120_000);
afterAll(() => session?.dispose());

describe("the page's class interventions (ImageSession.classes)", () => {
  it('steers a class over the held-out half of the recording against random directions, and leaves no tensor behind', async () => {
    const before = tf.memory().numTensors;
    const steps: number[] = [];
    const test = await session.classes.steer({ layer: 'conv3', direction: randomDirections(32, 1, 5), alpha: 4, classIndex: 1, random: 3, seed: 0 }, { onProgress: (done) => steps.push(done) });
    expect(tf.memory().numTensors).toBe(before);
    expect(test.images).toBe(IMAGES / 2);
    expect(test.rise.randomValues).toHaveLength(3);
    expect(test.classChanges).toHaveLength(10);
    expect(test.rise.value).toBeCloseTo(test.steered - test.clean, 12);
    expect(steps.length).toBeGreaterThan(0);
  });

  it("ablates a unit, measured on the class's held-out images; refuses a class the model has not", async () => {
    const before = tf.memory().numTensors;
    const test = await session.classes.ablate({ layer: 'conv3', target: { kind: 'unit', unit: 3 }, mode: 'mean', classIndex: 1, random: 2, seed: 0 }, {});
    expect(tf.memory().numTensors).toBe(before);
    expect(test.controls).toBe('random units');
    expect(test.images).toBeGreaterThan(0);
    await expect(session.classes.steer({ layer: 'conv3', direction: randomDirections(32, 1, 5), alpha: 4, classIndex: 10, random: 2, seed: 0 }, {})).rejects.toThrow(/10/);
  });
});

describe.skipIf(!hasFixtures)(`the page's class interventions on a graph model (MobileNet) ${hasFixtures ? '' : SKIP_FIXTURES}`, () => {
  const COUNT = 16;
  let graphSession: ImageSession;

  beforeAll(async () => {
    const model = await loadModelForCli(join(FIXTURES, 'models/mobilenet_v1_025_224'), { labels: join(FIXTURES, 'models/mobilenet_v1_025_224/synset_words.txt') });
    const photos = await folderProvider(join(FIXTURES, 'images/imagenet-val-300'));
    const unused = () => {
      throw new Error('not used by this test');
    };
    graphSession = new ImageSession(model, { loadSample: async () => ({ ...photos, count: COUNT }), loadTextSample: unused, decodeImage: unused, encodePng: async () => '' }, async () => 'test');
    const signal = new AbortController().signal;
    await graphSession.record({ kind: 'sample' }, { layer: model.defaultLayer, params: { ...DEFAULT_ATLAS_PARAMS, samplesPerInput: 'pooled' } }, { signal, onProgress: () => {} });
  }, 120_000);
  afterAll(() => graphSession?.dispose());

  it('steers along a direction at the last convolution and measures every class against random directions', async () => {
    const model = graphSession.model;
    const layer = model.defaultLayer;
    const before = tf.memory().numTensors;
    const test = await graphSession.classes.steer({ layer, direction: randomDirections(256, 1, 5), alpha: 4, classIndex: 473, random: 3, seed: 0 }, {});
    expect(tf.memory().numTensors).toBe(before);
    expect(test.images).toBe(COUNT / 2);
    expect(test.classChanges).toHaveLength(1001);
    expect(test.rise.randomValues).toHaveLength(3);
    expect(test.rise.value).toBeCloseTo(test.steered - test.clean, 12);
    // α 4 along a direction moves the class probabilities: the head after the layer is not skipped.
    expect(Math.max(...test.classChanges.map(Math.abs))).toBeGreaterThan(1e-4);
  });
});
