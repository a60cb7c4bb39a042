import * as tf from '@tensorflow/tfjs';
import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadModelForCli } from '../../src/cli/buildAtlas';
import { decodeImageFile } from '../../src/cli/nodeIo';
import { cellOf } from '../../src/compute/grid';
import { parseAtlas } from '../../src/export/atlasFile';
import { type Atlas } from '../../src/compute/atlas';
import { chooseBackend } from '../../src/model/backend';
import { prepareImage, type RawImage } from '../../src/model/image/preprocess';
import { sampleProvider } from '../../src/model/image/providers';
import { loadSampleFromDisk } from '../../src/model/image/sampleNode';
import { FIXTURES, hasFixtures } from '../fixtures';
import { tempDir } from '../tempDir';

const run = promisify(execFile);
const root = new URL('../..', import.meta.url).pathname;

async function atlasCli(args: string[]): Promise<{ atlas: Atlas; stdout: string; stderr: string }> {
  const out = join(tempDir('atlas-cli-'), 'atlas.json');
  const { stdout, stderr } = await run('node', ['--import', 'tsx', 'src/cli/atlas.ts', ...args, '--out', out], { cwd: root, maxBuffer: 1 << 26 });
  return { atlas: parseAtlas(readFileSync(out, 'utf8')), stdout, stderr };
}

/**
 * Re-derives the members of the biggest coarse cells from the file's layout, re-records their activations
 * straight from the image files, and checks the file's top inputs against a brute-force ranking.
 */
async function checkTopInputs(atlas: Atlas, modelArg: string, loadImage: (name: string) => Promise<RawImage>, cellsToCheck = 3) {
  const model = await loadModelForCli(modelArg);
  const level = atlas.levels[0];
  const g = level.size;
  const cells = [...level.cells].sort((a, b) => b.count - a.count).slice(0, cellsToCheck);
  const dim = atlas.layer.dim;
  const cache = new Map<number, Float32Array>();
  const activationOf = async (input: number): Promise<Float32Array> => {
    if (!cache.has(input)) {
      const { input: x, pixels } = prepareImage(await loadImage(atlas.inputs.names[input]), { height: model.inputHeight, width: model.inputWidth, channels: model.inputChannels }, model.preprocessing);
      const batch = x.expandDims(0) as tf.Tensor4D;
      const { activation, probabilities } = model.run(batch, atlas.layer.name);
      cache.set(input, (await activation.data()) as Float32Array);
      tf.dispose([x, pixels, batch, activation, probabilities ?? []]);
    }
    return cache.get(input)!;
  };
  const vectorOf = async (p: number) => {
    const grid = await activationOf(atlas.points.input[p]);
    const position = atlas.points.position[p];
    if (position < 0) {
      // pooled: the spatial mean (or the vector itself for a non-spatial layer)
      const positions = grid.length / dim;
      const v = new Float32Array(dim);
      for (let q = 0; q < positions; q++) for (let k = 0; k < dim; k++) v[k] += grid[q * dim + k] / positions;
      return v;
    }
    const o = position * dim;
    return grid.slice(o, o + dim);
  };
  for (const cell of cells) {
    const members = Array.from(atlas.points.input, (_, p) => p).filter((p) => cellOf(atlas.points.layoutX[p], g) === cell.i && cellOf(atlas.points.layoutY[p], g) === cell.j);
    expect(members.length).toBe(cell.count);
    const vectors = await Promise.all(members.map(vectorOf));
    const mean = new Float32Array(dim);
    for (const v of vectors) for (let k = 0; k < dim; k++) mean[k] += v[k] / vectors.length;
    for (let k = 0; k < dim; k++) expect(cell.mean[k]).toBeCloseTo(mean[k], 3);
    const norm = Math.hypot(...mean);
    const score = (v: Float32Array) => v.reduce((a, x, k) => a + x * mean[k], 0) / norm;
    const best = new Map<number, { p: number; s: number }>();
    members.forEach((p, m) => {
      const s = score(vectors[m]);
      const input = atlas.points.input[p];
      if (!best.has(input) || s > best.get(input)!.s) best.set(input, { p, s });
    });
    const expected = [...best.values()].sort((a, b) => b.s - a.s).slice(0, atlas.params.topK);
    expect(cell.top.map((t) => t.input)).toEqual(expected.map((e) => atlas.points.input[e.p]));
    cell.top.forEach((t, r) => expect(t.score).toBeCloseTo(expected[r].s, 2));
  }
  model.dispose();
}

beforeAll(async () => {
  await chooseBackend({ node: true });
});

describe('npm run atlas (CLI)', () => {
  it('builds the default atlas from the built-in model and bundled sample, with correct top inputs', async () => {
    const { atlas, stdout } = await atlasCli(['--samples', '2', '--grid', '20,40,80,160']);
    expect(stdout).toMatch(/3000 inputs, 6000 rows recorded, 6000 points of layer conv3 \(32-d\)/);
    expect(atlas.model.classNames).toHaveLength(10);
    expect(atlas.levels.map((l) => l.size)).toEqual([20, 40, 80, 160]);
    expect(atlas.levels.every((l) => l.cells.length > 0)).toBe(true);
    // The labels are the true Fashion-MNIST classes, and the model mostly agrees with them.
    const agree = atlas.inputs.label.filter((l, i) => l === atlas.inputs.predicted[i]).length / atlas.inputs.label.length;
    expect(agree).toBeGreaterThan(0.8);
    const sample = sampleProvider(await loadSampleFromDisk());
    await checkTopInputs(atlas, 'default', (name) => sample.load(Number(name.replace('sample-', ''))));
  });

  it.skipIf(!hasFixtures)('builds a Tiny VGG atlas from an ImageFolder, listing the bad files and keeping the rest', async () => {
    const dir = tempDir('tinyvgg-images-');
    const photos = join(FIXTURES, 'images/tinyimagenet10');
    for (const f of readdirSync(photos)) {
      const label = f.split('_')[0];
      mkdirSync(join(dir, label), { recursive: true });
      cpSync(join(photos, f), join(dir, label, f));
    }
    writeFileSync(join(dir, 'pizza', 'corrupt.jpeg'), 'definitely not a jpeg');
    writeFileSync(join(dir, 'notes.txt'), 'a text file among the images');
    const { atlas, stderr } = await atlasCli(['--model', join(FIXTURES, 'models/tinyvgg'), '--images', dir, '--samples', '3', '--layer', 'relu_2_2']);
    expect(stderr).toMatch(/skipped 2 input\(s\)/);
    expect(stderr).toMatch(/pizza\/corrupt.jpeg/);
    expect(stderr).toMatch(/notes.txt/);
    expect(atlas.inputs.names.length).toBe(20);
    expect(atlas.points.input.length).toBe(60);
    expect(atlas.levels.map((l) => l.size)).toEqual([20, 40, 80, 160]);
    expect(atlas.levels.every((l) => l.cells.length > 0)).toBe(true);
    expect(new Set(atlas.inputs.label.map((l) => atlas.labelNames[l]))).toEqual(new Set(['boat', 'bug', 'bus', 'car', 'espresso', 'koala', 'orange', 'panda', 'pepper', 'pizza']));
    await checkTopInputs(atlas, join(FIXTURES, 'models/tinyvgg'), (name) => decodeImageFile(join(dir, name)));
  });

  it.skipIf(!hasFixtures)('builds a MobileNet atlas on imagenet-val-300 whose top inputs match a brute-force ranking', async () => {
    const model = join(FIXTURES, 'models/mobilenet_v1_025_224');
    const images = join(FIXTURES, 'images/imagenet-val-300');
    const { atlas, stderr } = await atlasCli(['--model', model, '--images', images, '--samples', '2', '--labels', join(model, 'synset_words.txt'), '--grid', '20,40']);
    expect(stderr).toMatch(/labels.csv/); // the one non-image file, listed and skipped
    expect(atlas.inputs.names.length).toBe(300);
    expect(atlas.layer.shape).toEqual([7, 7, 256]);
    expect(atlas.labelNames[0]).toBe('background');
    expect(atlas.levels[0].cells.length).toBeGreaterThan(20);
    await checkTopInputs(atlas, model, (name) => decodeImageFile(join(images, name)));
  }, 300_000);

  it('fails with a clear message for a bad model folder or image folder', async () => {
    const empty = tempDir('empty-');
    await expect(atlasCli(['--model', empty, '--images', empty])).rejects.toMatchObject({ stderr: expect.stringMatching(/No model.json in/) });
    await expect(atlasCli(['--model', 'default', '--images', join(empty, 'nope')])).rejects.toMatchObject({ stderr: expect.stringMatching(/Image folder .*nope does not exist/) });
    await expect(atlasCli(['--samples', 'many'])).rejects.toMatchObject({ stderr: expect.stringMatching(/--samples must be/) });
  });
});
