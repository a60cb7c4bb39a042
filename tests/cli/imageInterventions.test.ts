import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAblateArgs } from '../../src/cli/ablate';
import { ablateImages, type ImageAblateOptions } from '../../src/cli/ablateRun';
import { loadModelForCli } from '../../src/cli/buildAtlas';
import { parseSteerArgs } from '../../src/cli/steer';
import { steerImages, type ImageSteerOptions } from '../../src/cli/steerRun';
import { chooseBackend } from '../../src/model/backend';
import type { ImageModel } from '../../src/model/image/imageModel';
import { loadSampleFromDisk } from '../../src/model/image/sampleNode';
import { tempDir } from '../tempDir';

const CLASSES = ['Trouser', 'Bag', 'Sneaker'];
const PER_CLASS = 10;
let model: ImageModel;
let folder: string;
let steerOptions: ImageSteerOptions;

beforeAll(async () => {
  await chooseBackend({ node: true });
  model = await loadModelForCli('default');
  const sample = await loadSampleFromDisk();
  folder = tempDir('image-interventions-');
  for (const name of CLASSES) {
    const k = sample.labelNames.indexOf(name);
    mkdirSync(join(folder, name));
    const members = Array.from(sample.labels.keys()).filter((i) => sample.labels[i] === k).slice(0, PER_CLASS);
    for (const i of members) {
      const pixels = Buffer.from(sample.images.subarray(i * 784, (i + 1) * 784));
      await sharp(pixels, { raw: { width: 28, height: 28, channels: 1 } }).png().toFile(join(folder, name, `${i}.png`));
    }
  }
  writeFileSync(join(folder, 'Bag', 'broken.png'), 'not a png');
  steerOptions = { model: 'default', images: folder, className: 'Trouser', alpha: 4, random: 3, controls: 'alpha', seed: 0, sources: {} };
});
afterAll(() => model?.dispose());

describe('npm run steer / ablate --images', () => {
  it('parses the image flags and refuses the text ones', () => {
    expect(parseSteerArgs(['--images', 'sample', '--class', 'Bag', '--alpha', '2'])?.image).toMatchObject({ images: 'sample', className: 'Bag', alpha: 2, random: 20, heldOut: 0.5, controls: 'alpha' });
    expect(() => parseSteerArgs(['--images', 'sample', '--alpha', '2'])).toThrow('Missing --class (with --images).');
    expect(() => parseSteerArgs(['--images', 'sample', '--class', 'Bag', '--alpha', '2', '--prompt', 'x'])).toThrow('--prompt: for a GPT-2');
    expect(() => parseSteerArgs(['--images', 'sample', '--class', 'Bag', '--alpha', '2', '--held-out', '1'])).toThrow('--held-out must be a share between 0 and 1');
    expect(() => parseSteerArgs(['--layer', 'h.1', '--direction', 'neuron:1', '--prompt', 'x', '--alpha', '2', '--class', 'Bag'])).toThrow('--class goes with --images');
    expect(parseAblateArgs(['--images', 'sample', '--class', 'Bag'])?.image).toMatchObject({ mode: 'project', random: 20, heldOut: 0.5 });
    expect(() => parseAblateArgs(['--images', 'sample'])).toThrow('Missing --class (with --images).');
    expect(() => parseAblateArgs(['--images', 'sample', '--class', 'Bag', '--texts', 'a.txt'])).toThrow('--texts: for a GPT-2');
  });

  it('steers along a class concept learnt from held-in images, measured on the held-out ones; α = 0 moves nothing', async () => {
    const report = await steerImages(steerOptions, model);
    expect(report).toMatchObject({ version: 1, modality: 'image', layer: 'conv3', direction: 'class:Trouser', class: 'Trouser', classIndex: 1 });
    expect(report.images).toMatchObject({ count: 3 * PER_CLASS, heldIn: 15, heldOut: 15 });
    expect(report.images.unreadable).toEqual([{ name: join('Bag', 'broken.png'), reason: expect.stringContaining('not a readable image') }]);
    expect(report.concept!.positives + report.concept!.negatives).toBe(15);
    expect(report.significance.images).toBe(15);
    expect(report.significance.rise.randomValues).toHaveLength(3);
    expect(report.scale).toBeGreaterThan(0);
    const still = await steerImages({ ...steerOptions, alpha: 0 }, model);
    expect(still.significance.rise.value).toBe(0);
    expect(still.significance.clean).toBe(report.significance.clean);
    const otherSplit = await steerImages({ ...steerOptions, seed: 1 }, model);
    expect(otherSplit.significance.clean).not.toBe(report.significance.clean);
  });

  it('ablates: a neuron projected out is the neuron zeroed; clear errors', async () => {
    const options: ImageAblateOptions = { model: 'default', images: folder, className: 'Bag', direction: 'neuron:4', mode: 'project', random: 3, seed: 0, sources: {} };
    const before = tf.memory().numTensors;
    const projected = await ablateImages(options, model);
    const zeroed = await ablateImages({ ...options, mode: 'zero' }, model);
    expect(tf.memory().numTensors).toBe(before);
    expect(projected).toMatchObject({ version: 1, modality: 'image', class: 'Bag', mode: 'project' });
    expect(projected.test.images).toBeGreaterThan(0);
    expect(zeroed.test.accuracy).toEqual(projected.test.accuracy);
    expect(zeroed.test.probability.ablated).toBeCloseTo(projected.test.probability.ablated, 6);
    expect(zeroed.test.controls).toBe('random units');
    // The class concept set to its mean over the held-in images, against random directions set to theirs.
    const meaned = await ablateImages({ ...options, mode: 'mean', direction: undefined }, model);
    expect(meaned).toMatchObject({ mode: 'mean', direction: 'class:Bag', test: { controls: 'random directions', random: 3 } });
    expect(meaned.test.probability.ablated).not.toBe(meaned.test.probability.clean);
    await expect(ablateImages({ ...options, mode: 'zero', direction: undefined }, model)).rejects.toThrow('--mode zero sets one unit: give --direction neuron:N, or --mode project or mean for "class:Bag"');
    await expect(ablateImages({ ...options, className: 'Hat' }, model)).rejects.toThrow('--class "Hat" is not a class of model "fashion-cnn (built-in)": its classes are "T-shirt/top", "Trouser"');
    await expect(ablateImages({ ...options, className: 'Coat' }, model)).rejects.toThrow(/No image of --images .* is labelled "Coat"; its labels that are classes of the model: Bag, Sneaker, Trouser/);
    await expect(ablateImages({ ...options, layer: 'conv1', direction: 'neuron:20' }, model)).rejects.toThrow('conv1 has units 0..15; got neuron:20.');
    await expect(steerImages({ ...steerOptions, direction: 'texts:a.txt' }, model)).rejects.toThrow('--direction texts: learns from texts, for a GPT-2');
  });
});
