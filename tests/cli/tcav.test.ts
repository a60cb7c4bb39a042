import * as tf from '@tensorflow/tfjs';
import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { runTcav, type TcavCliOptions, type TcavReport } from '../../src/cli/tcavRun';
import { chooseBackend } from '../../src/model/backend';
import { createRng } from '../../src/lib/rng';
import { asFiles, saveArtifacts } from '../model/helpers';
import { tempDir } from '../tempDir';

const run = promisify(execFile);
const root = new URL('../..', import.meta.url).pathname;
const SIZE = 12;

/**
 * A seeded CNN whose recorded layer `conv` is pooled by the model itself (global average pooling), followed
 * by a ReLU hidden layer, so a class logit's gradient at the pooled activation differs from input to input.
 */
function seededModel(): tf.LayersModel {
  const init = (seed: number) => tf.initializers.glorotUniform({ seed });
  return tf.sequential({
    layers: [
      tf.layers.conv2d({ name: 'conv', inputShape: [SIZE, SIZE, 3], filters: 8, kernelSize: 3, activation: 'relu', kernelInitializer: init(11) }),
      tf.layers.globalAveragePooling2d({ name: 'gap' }),
      tf.layers.dense({ name: 'hidden', units: 16, activation: 'relu', kernelInitializer: init(12), biasInitializer: tf.initializers.constant({ value: 0.1 }) }),
      tf.layers.dense({ name: 'probs', units: 3, activation: 'softmax', kernelInitializer: tf.initializers.randomNormal({ stddev: 2, seed: 13 }) }),
    ],
  });
}

/** Noise around a random colour, so that images differ in their pooled activations and not only in their noise. */
function colourNoise(seed: number): Uint8Array {
  const random = createRng(seed);
  const base = [random(), random(), random()].map((v) => v * 200);
  return Uint8Array.from({ length: SIZE * SIZE * 3 }, (_, i) => Math.min(255, Math.round(base[i % 3] + random() * 55)));
}

async function writeImages(dir: string, images: Uint8Array[]): Promise<void> {
  mkdirSync(dir, { recursive: true });
  await Promise.all(images.map((data, i) => sharp(Buffer.from(data), { raw: { width: SIZE, height: SIZE, channels: 3 } }).png().toFile(join(dir, `img${String(i).padStart(3, '0')}.png`))));
}

let work: string;
let modelDir: string;
let classK: number;
/** A class the model predicts for no candidate, so no input is predicted as it. */
let rareClass: number;
const folder = (name: string) => join(work, name);
const options = (extra: Partial<TcavCliOptions> = {}): TcavCliOptions => ({
  model: modelDir,
  layer: 'conv',
  concept: folder('concept'),
  negatives: folder('negatives'),
  inputs: folder('inputs'),
  runs: 10,
  ...extra,
});

/** What every report must satisfy, whatever the data. */
function checkReport(report: TcavReport): void {
  expect(report.version).toBe(1);
  expect(report.layer).toBe('conv');
  expect(report.layerDim).toBe(8);
  expect(report.cavAccuracy).toBeGreaterThanOrEqual(0);
  expect(report.cavAccuracy).toBeLessThanOrEqual(1);
  const tested = report.classes.filter((c) => !c.skipped);
  expect(report.classesTested).toBe(tested.length);
  expect(report.threshold).toBeCloseTo(report.alpha / Math.max(1, tested.length), 12);
  for (const c of report.classes) {
    expect(c.inputNames).toHaveLength(c.inputs);
    expect(typeof c.className).toBe('string');
    if (c.skipped) {
      expect(c.inputs).toBeLessThan(2);
      expect(c.significant).toBe(false);
      continue;
    }
    for (const v of [c.score!, c.p!, c.pBonferroni!, c.randomMean!]) {
      expect(v).toBeGreaterThanOrEqual(0);
      expect(v).toBeLessThanOrEqual(1);
    }
    expect(c.randomStd!).toBeGreaterThanOrEqual(0);
    expect(c.significant).toBe(c.p! < report.alpha / report.classesTested);
    expect(c.pBonferroni).toBeCloseTo(Math.min(1, c.p! * report.classesTested), 12);
  }
}

beforeAll(async () => {
  await chooseBackend({ node: true });
  work = tempDir('tcav-cli-');
  modelDir = folder('model');
  mkdirSync(modelDir);
  const model = seededModel();
  const { json, weights } = asFiles(await saveArtifacts(model));
  writeFileSync(join(modelDir, 'model.json'), json);
  writeFileSync(join(modelDir, 'weights.bin'), weights);

  // Candidates scored by the model itself: the concept is what drives class k's logit, by construction.
  const candidates = Array.from({ length: 160 }, (_, i) => colourNoise(1000 + i));
  const logits = tf.tidy(() => {
    const x = tf.tensor4d(Float32Array.from(candidates.flatMap((c) => Array.from(c, (v) => v / 255))), [candidates.length, SIZE, SIZE, 3]);
    return tf.log((model.predict(x) as tf.Tensor2D).add(1e-12)).arraySync() as number[][];
  });
  model.dispose();
  const predicted = logits.map((row) => row.indexOf(Math.max(...row)));
  const counts = [0, 1, 2].map((k) => predicted.filter((p) => p === k).length);
  classK = counts.indexOf(Math.max(...counts)); // the class with the most inputs to test
  rareClass = counts.indexOf(Math.min(...counts));
  const margin = (row: number[]) => row[classK] - Math.max(...row.filter((_, j) => j !== classK));
  const order = candidates.map((_, i) => i).sort((a, b) => margin(logits[b]) - margin(logits[a]));
  const top = order.slice(0, 12);
  const bottom = order.slice(-12);
  const middle = order.slice(12, -12);
  const shuffled = middle.sort((a, b) => ((a * 7919) % 101) - ((b * 7919) % 101));
  await writeImages(folder('concept'), top.map((i) => candidates[i]));
  await writeImages(folder('anti'), bottom.map((i) => candidates[i]));
  await writeImages(folder('negatives'), shuffled.slice(0, 60).map((i) => candidates[i]));
  await writeImages(folder('inputs'), shuffled.slice(60).map((i) => candidates[i]));
  mkdirSync(folder('empty'));
});

describe('npm run tcav', () => {
  it('finds that a concept built from class k`s strongest inputs raises class k, and its opposite lowers it', async () => {
    const report = await runTcav(options({ classes: [classK] }));
    checkReport(report);
    expect(report.concept.count).toBe(12);
    expect(report.negatives.count).toBe(60);
    expect(report.inputs.count).toBe(76);
    expect(report.classSelection).toBe('given');
    const [k] = report.classes;
    expect(k.classIndex).toBe(classK);
    expect(k.inputs).toBeGreaterThanOrEqual(2);
    expect(report.cavAccuracy).toBeGreaterThan(0.8);
    expect(k.score!).toBeGreaterThan(0.6);
    expect(k.score!).toBeGreaterThan(k.randomMean!);
    expect(k.significant).toBe(true);

    const anti = await runTcav(options({ concept: folder('anti'), classes: [classK] }));
    checkReport(anti);
    expect(anti.classes[0].score!).toBeLessThan(0.4);
    expect(anti.classes[0].score!).toBeLessThan(anti.classes[0].randomMean!);

    const logistic = await runTcav(options({ classes: [classK], method: 'logistic' }));
    checkReport(logistic);
    expect(logistic.method).toBe('logistic');
    expect(logistic.classes[0].score!).toBeGreaterThan(logistic.classes[0].randomMean!);
  });

  it('picks the most predicted classes, and skips a class with too few inputs', async () => {
    const report = await runTcav(options({ classes: 'auto', seed: 3 }));
    checkReport(report);
    expect(report.classSelection).toBe('auto');
    expect(report.classes.length).toBeGreaterThanOrEqual(1);
    expect(report.classes.length).toBeLessThanOrEqual(3);
    const counts = report.classes.map((c) => c.inputs);
    expect(counts).toEqual([...counts].sort((a, b) => b - a));
    expect(report.classes[0].classIndex).toBe(classK);
    expect(counts.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(report.inputs.count);

    const before = tf.memory().numTensors;
    const withRare = await runTcav(options({ classes: [rareClass, classK] }));
    expect(tf.memory().numTensors).toBe(before); // the model, the inputs and the gradients are all freed
    checkReport(withRare);
    const [rare, k] = withRare.classes;
    expect(rare.inputs).toBe(0);
    expect(rare.skipped).toMatch(/0 input\(s\) predicted as this class; TCAV needs at least 2/);
    expect(rare.p).toBeNull();
    expect(k.skipped).toBeUndefined();
    expect(withRare.classesTested).toBe(1);
    expect(withRare.threshold).toBe(0.05);
  });

  it('rejects bad folders, layers and classes with clear messages', async () => {
    await expect(runTcav(options({ concept: folder('nowhere') }))).rejects.toThrow(/--concept .*nowhere does not exist/);
    await expect(runTcav(options({ negatives: folder('empty') }))).rejects.toThrow(/--negatives .*empty holds no files/);
    await expect(runTcav(options({ layer: 'nosuch' }))).rejects.toThrow(/Layer "nosuch" is not a recordable layer.*conv/);
    await expect(runTcav(options({ classes: [3] }))).rejects.toThrow(/Class 3 is out of range: model "model" has 3 classes \(0\.\.2\)/);
    await expect(runTcav(options({ runs: 1 }))).rejects.toThrow(/--runs must be/);
  });

  it('runs as a command: writes the JSON, prints the table, and exits 1 on bad input', async () => {
    const out = join(work, 'tcav.json');
    const args = ['--model', modelDir, '--layer', 'conv', '--concept', folder('concept'), '--negatives', folder('negatives'), '--inputs', folder('inputs')];
    const { stdout } = await run('node', ['--import', 'tsx', 'src/cli/tcav.ts', ...args, '--runs', '6', '--classes', String(classK), '--out', out], { cwd: root });
    const report = JSON.parse(readFileSync(out, 'utf8')) as TcavReport;
    checkReport(report);
    expect(report.runs).toBe(6);
    expect(stdout).toMatch(/class\s+name\s+inputs\s+score/);
    expect(stdout).toContain(`wrote ${out}`);

    const failed = await run('node', ['--import', 'tsx', 'src/cli/tcav.ts', ...args, '--classes', '7', '--out', out], { cwd: root }).catch((e: { code: number; stderr: string }) => e);
    expect('code' in failed && failed.code).toBe(1);
    expect((failed as { stderr: string }).stderr).toMatch(/error: Class 7 is out of range/);
  });
});
