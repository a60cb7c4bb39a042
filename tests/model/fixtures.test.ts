import * as tf from '@tensorflow/tfjs';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { artifactsFromDirectory, decodeImageFile, readClassNames } from '../../src/cli/nodeIo';
import { ImageModel } from '../../src/model/image/imageModel';
import { chooseBackend } from '../../src/model/backend';
import { prepareImage } from '../../src/model/image/preprocess';
import { FIXTURES, hasFixtures, SKIP_FIXTURES, TINYVGG_CLASSES, TINYVGG_PREFIX } from '../fixtures';

beforeAll(async () => {
  await chooseBackend({ node: true });
});

async function batchOf(model: ImageModel, paths: string[]): Promise<tf.Tensor4D> {
  const inputs = [];
  for (const p of paths) {
    const { input, pixels } = prepareImage(await decodeImageFile(p), { height: model.inputHeight, width: model.inputWidth, channels: model.inputChannels }, model.preprocessing);
    pixels.dispose();
    inputs.push(input);
  }
  const batch = tf.stack(inputs) as tf.Tensor4D;
  tf.dispose(inputs);
  return batch;
}

describe.skipIf(!hasFixtures)('real pretrained models from ../shared/fixtures', () => {
  it('MobileNet v1 graph model reaches top-5 >= 75% on imagenet-val-300, leak-free', async () => {
    const dir = join(FIXTURES, 'models/mobilenet_v1_025_224');
    const { artifacts, name } = await artifactsFromDirectory(dir);
    const before = tf.memory().numTensors;
    const model = await ImageModel.fromArtifacts(artifacts, name, { classNames: await readClassNames(join(dir, 'synset_words.txt')) });
    expect(model.kind).toBe('graph');
    expect([model.inputHeight, model.inputWidth, model.inputChannels, model.outputSize]).toEqual([224, 224, 3, 1001]);
    expect(model.classNames![0]).toBe('background');
    expect(model.layers.find((l) => l.name === model.defaultLayer)!.shape).toEqual([7, 7, 256]);
    const imagesDir = join(FIXTURES, 'images/imagenet-val-300');
    const rows = readFileSync(join(imagesDir, 'labels.csv'), 'utf8').trim().split('\n').slice(1).map((l) => l.split(','));
    let top5 = 0;
    for (let s = 0; s < rows.length; s += 50) {
      const part = rows.slice(s, s + 50);
      const batch = await batchOf(model, part.map((r) => join(imagesDir, r[0])));
      const probs = model.classify(batch);
      const { values, indices } = tf.topk(probs, 5);
      const top = (await indices.array()) as number[][];
      tf.dispose([batch, probs, values, indices]);
      part.forEach((r, i) => (top5 += top[i].includes(Number(r[1]) + 1) ? 1 : 0));
    }
    console.log(`MobileNet top-5 on imagenet-val-300: ${((100 * top5) / rows.length).toFixed(1)}%`);
    expect(top5 / rows.length).toBeGreaterThanOrEqual(0.75);
    model.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('Tiny VGG layers model gets >= 12 of its 20 photos right, leak-free', async () => {
    const { artifacts, name } = await artifactsFromDirectory(join(FIXTURES, 'models/tinyvgg'));
    const before = tf.memory().numTensors;
    const model = await ImageModel.fromArtifacts(artifacts, name, { classNames: TINYVGG_CLASSES });
    expect(model.kind).toBe('layers');
    const dir = join(FIXTURES, 'images/tinyimagenet10');
    const files = readdirSync(dir).filter((f) => f.endsWith('.jpeg'));
    const batch = await batchOf(model, files.map((f) => join(dir, f)));
    const probs = model.classify(batch);
    const argMax = probs.argMax(1);
    const predicted = Array.from(await argMax.data());
    tf.dispose([batch, probs, argMax]);
    const right = files.filter((f, i) => TINYVGG_CLASSES[predicted[i]] === TINYVGG_PREFIX[f.split('_')[0]]).length;
    console.log(`Tiny VGG: ${right} of ${files.length} right`);
    expect(right).toBeGreaterThanOrEqual(12);
    model.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});
