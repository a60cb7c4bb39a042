import * as tf from '@tensorflow/tfjs';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { bundledSample, loadModelForCli } from '../../src/cli/buildAtlas';
import type { ImageNeuronsFile, NeuronsFile } from '../../src/cli/neurons';
import { chooseBackend } from '../../src/model/backend';
import { recordActivations } from '../../src/model/image/recordImages';
import { windows as windowsOf } from '../../src/model/text/documents';
import { TextModel } from '../../src/model/text/textModel';
import { encode } from '../../src/model/text/tokenizer';
import { createRng } from '../../src/lib/rng';
import { asFiles, saveArtifacts } from '../model/helpers';
import { encodeSae } from '../../src/model/sae/encode';
import { measureLatentPolysemanticity } from '../../src/model/sae/latentPolysemanticity';
import { tinyGpt2Files, writeCheckpointFolder } from '../model/text/tinyGpt2';
import { cliFailure, root, run } from './cliRun';
import { randomSae, writeSaeFolder } from './saeFolder';
import { MOBY_PARAGRAPHS as PARAGRAPHS } from './paragraphs';
import { tempDir } from '../tempDir';



async function neuronsCli<File = NeuronsFile>(args: string[]): Promise<{ json: File; stdout: string; stderr: string }> {
  const out = join(tempDir('neurons-cli-'), 'neurons.json');
  const { stdout, stderr } = await run('node', ['--import', 'tsx', 'src/cli/neurons.ts', ...args, '--out', out], { cwd: root, maxBuffer: 1 << 26 });
  return { json: JSON.parse(readFileSync(out, 'utf8')) as File, stdout, stderr };
}

const cliError = (args: string[]) => cliFailure('src/cli/neurons.ts', [...args, '--out', join(tempDir('neurons-cli-'), 'n.json')]);

let checkpoint: string;
let textFile: string;
beforeAll(async () => {
  await chooseBackend({ node: true });
  checkpoint = writeCheckpointFolder(tinyGpt2Files({ seed: 11 }));
  textFile = join(tempDir('neurons-text-'), 'moby.txt');
  writeFileSync(textFile, PARAGRAPHS.join('\n\n'));
});

describe('npm run neurons (CLI)', () => {
  it('measures every neuron of a layer; the report is consistent and its maxima equal a direct record', async () => {
    const { json, stdout, stderr } = await neuronsCli(['--model', checkpoint, '--text', textFile, '--layer', 'h.1.mlp.act', '--min-members', '2']);
    expect(json).toMatchObject({ version: 1, kind: 'neuron-polysemanticity', layer: 'h.1.mlp.act', threshold: 0.5, minMembers: 2, exampleFraction: 0.75, documents: 4 });
    const windows = PARAGRAPHS.flatMap((p) => windowsOf(encode(p), 24));
    expect(json.windows).toBe(windows.length);
    expect(json.tokens).toBe(windows.reduce((n, w) => n + w.length - 1, 0));
    expect(json.tokensAvailable).toBe(json.tokens);
    expect(json.notices.some((n) => n.includes('split into'))).toBe(true);
    expect(json.neurons.map((n) => n.index)).toEqual(Array.from({ length: 64 }, (_, i) => i));
    expect(json.histogram.reduce((a, b) => a + b, 0)).toBe(64);
    json.histogram.forEach((count, k) => expect(count).toBe(json.neurons.filter((n) => n.polysemanticity === k).length));

    const model = await TextModel.fromFiles(tinyGpt2Files({ seed: 11 }), 'direct');
    const max = new Float32Array(64).fill(-Infinity);
    for (const ids of windows) {
      const t = model.gpt2.record([ids], 'h.1.mlp.act');
      const rows = t.dataSync();
      t.dispose();
      for (let p = 1; p < ids.length; p++) for (let n = 0; n < 64; n++) max[n] = Math.max(max[n], rows[p * 64 + n]);
    }
    model.dispose();
    for (const n of json.neurons) {
      expect(n.maxActivation).toBe(max[n.index]);
      expect(n.examples).toBeGreaterThanOrEqual(n.clusteredExamples);
      expect(n.clusters.reduce((a, b) => a + b, 0)).toBe(n.clusteredExamples);
      expect(n.clusters).toEqual([...n.clusters].sort((a, b) => b - a));
      expect(n.polysemanticity).toBe(n.clusters.filter((c) => c >= 2).length);
      expect(n.polysemanticity).toBeLessThanOrEqual(n.clusters.length);
      expect(n.topClusters.length).toBe(Math.min(3, n.clusters.length));
      n.topClusters.forEach((examples, k) => {
        expect(examples.length).toBe(Math.min(3, n.clusters[k]));
        for (const e of examples) {
          expect(e.activation).toBeGreaterThanOrEqual(0.75 * n.maxActivation);
          expect(e.position).toBeGreaterThan(0);
          expect(e.context.endsWith(`[${e.token}]`)).toBe(true);
          expect(e.document).toMatch(/moby\.txt/);
        }
      });
      if (n.examples > 0 && n.clusters.length <= 3) expect(Math.max(...n.topClusters.flat().map((e) => e.activation))).toBe(n.maxActivation);
    }
    expect(stdout).toMatch(/polysemanticity: 0: \d+/);
    expect(stdout).toMatch(/wrote .*neurons\.json/);
    expect(stderr).toMatch(/note: \d+ documents? (was|were) longer/);
  });

  it('measures only the neurons asked for, and says when --max-tokens and --max-examples cap it', async () => {
    const { json, stderr } = await neuronsCli(['--model', checkpoint, '--text', textFile, '--layer', 'h.0.mlp.act', '--neurons', '3,10-12', '--max-tokens', '20', '--max-examples', '1']);
    expect(json.neurons.map((n) => n.index)).toEqual([3, 10, 11, 12]);
    expect(json.tokens).toBe(20);
    expect(json.tokensAvailable).toBeGreaterThan(20);
    expect(json.notices).toContain(`--max-tokens: recorded the first 20 of ${json.tokensAvailable} tokens.`);
    expect(json.neurons.every((n) => n.clusteredExamples <= 1 && n.polysemanticity === 0)).toBe(true);
    if (json.neurons.some((n) => n.examples > 1)) expect(stderr).toMatch(/only their 1 most active were clustered/);
  });

  it('fails clearly on images, non-MLP layers and bad flags', async () => {
    expect(await cliError(['--text', textFile, '--images', 'sample'])).toMatch(/Pass --text or --images, not both/);
    expect(await cliError([])).toMatch(/Pass --text <file\|dir> with documents, or --images <dir\|sample>/);
    expect(await cliError(['--model', checkpoint, '--text', textFile, '--layer', 'h.1'])).toMatch(/MLP neurons \(h\.I\.mlp\.act\); h\.1 is not one/);
    expect(await cliError(['--model', checkpoint, '--text', textFile, '--neurons', '5-2'])).toMatch(/runs backwards/);
    expect(await cliError(['--model', checkpoint, '--text', textFile, '--neurons', '70'])).toMatch(/neurons 0-63; got 70/);
    expect(await cliError(['--model', checkpoint, '--text', textFile, '--threshold', '2'])).toMatch(/--threshold must be a number from -1 to 1/);
  });
});

describe('npm run neurons --sae (latents beside neurons)', () => {
  it("measures the SAE's latents on the neurons' rows as a direct encode and measure does, and prints both histograms side by side", async () => {
    const sae = randomSae({ dIn: 64, dSae: 96, k: 6, layer: 'h.1.mlp.act', seed: 4 });
    const dir = writeSaeFolder(sae, 'text');
    const { json, stdout } = await neuronsCli(['--model', checkpoint, '--text', textFile, '--layer', 'h.1.mlp.act', '--min-members', '2', '--sae', dir]);
    const latents = json.latents!;
    expect(latents).toMatchObject({ sae: dir, architecture: 'topk', k: 6, dSae: 96 });
    expect(latents.latents.map((l) => l.index)).toEqual(Array.from({ length: 96 }, (_, i) => i));
    expect(latents.histogram.reduce((a, b) => a + b, 0)).toBe(96);

    // The oracle: the layer recorded window by window (token 0 left out, as the neurons' rows), encoded and measured directly.
    const model = await TextModel.fromFiles(tinyGpt2Files({ seed: 11 }), 'direct');
    const windows = PARAGRAPHS.flatMap((p) => windowsOf(encode(p), 24));
    const rows: number[] = [];
    for (const ids of windows) {
      const t = model.gpt2.record([ids], 'h.1.mlp.act');
      rows.push(...t.dataSync().subarray(64));
      t.dispose();
    }
    model.dispose();
    const activations = Float32Array.from(rows);
    expect(activations.length / 64).toBe(json.tokens);
    const direct = await measureLatentPolysemanticity(sae, activations, await encodeSae(sae, activations), { threshold: 0.5, minMembers: 2, fraction: 0.75, maxExamples: 2000 });
    expect(latents.histogram).toEqual(direct.histogram);
    expect(latents.deadLatents).toBe(direct.deadLatents);
    expect(latents.meanPolysemanticity).toBeCloseTo(direct.meanPolysemanticity, 12);
    latents.latents.forEach((l, i) => expect(l).toEqual({ ...direct.latents[i], clusters: direct.latents[i].clusters.slice(0, 8) }));

    const bins = (histogram: number[]) => [0, 1, 2, 3].map((k) => histogram[k] ?? 0).concat(histogram.slice(4).reduce((a, b) => a + b, 0));
    expect(stdout).toMatch(/^clusters per unit\s+0\s+1\s+2\s+3\s+4\+\s+mean$/m);
    const line = (name: string) => stdout.split('\n').find((l) => l.startsWith(name))!;
    expect(line('neurons (64)').match(/\d+(?= \()/g)!.map(Number)).toEqual(bins(json.histogram));
    expect(line('latents (96)').match(/\d+(?= \()/g)!.map(Number)).toEqual(bins(latents.histogram));
  });

  it('an SAE of another layer gets a message naming the folder', async () => {
    const dir = writeSaeFolder(randomSae({ dIn: 64, dSae: 32, k: 4, layer: 'h.0.mlp.act', seed: 1 }), 'text');
    expect(await cliError(['--model', checkpoint, '--text', textFile, '--layer', 'h.1.mlp.act', '--sae', dir])).toContain(
      `error: --sae ${dir}: The SAE reads h.0.mlp.act (hook_name blocks.0.mlp.hook_post), not h.1.mlp.act, the layer it is opened on.`,
    );
  });
});

/** A 16x16 RGB model: conv (linear) -> bn -> act (ReLU) -> pool -> flatten -> probs; its atlas layer is pool. */
async function writeBatchNormModel(): Promise<string> {
  const init = (seed: number) => tf.initializers.glorotUniform({ seed });
  const model = tf.sequential({
    layers: [
      tf.layers.conv2d({ name: 'conv', inputShape: [16, 16, 3], filters: 6, kernelSize: 3, kernelInitializer: init(1) }),
      tf.layers.batchNormalization({ name: 'bn' }),
      tf.layers.activation({ name: 'act', activation: 'relu' }),
      tf.layers.maxPooling2d({ name: 'pool', poolSize: 2 }),
      tf.layers.flatten({ name: 'flat' }),
      tf.layers.dense({ name: 'probs', units: 2, activation: 'softmax', kernelInitializer: init(2) }),
    ],
  });
  const bnWeights = [tf.fill([6], 1.5), tf.fill([6], 0.1), tf.fill([6], 0.05), tf.fill([6], 0.5)];
  model.getLayer('bn').setWeights(bnWeights);
  const { json, weights } = asFiles(await saveArtifacts(model));
  tf.dispose(bnWeights);
  model.dispose();
  const dir = tempDir('neurons-model-');
  writeFileSync(join(dir, 'model.json'), json);
  writeFileSync(join(dir, 'weights.bin'), weights);
  return dir;
}

/** 8 random 16x16 PNGs in two class folders, and one file that is not an image. */
async function writeImageFolder(): Promise<string> {
  const dir = tempDir('neurons-images-');
  const random = createRng(4);
  for (const label of ['a', 'b']) mkdirSync(join(dir, label));
  await Promise.all(
    Array.from({ length: 8 }, (_, i) => {
      const data = Uint8Array.from({ length: 16 * 16 * 3 }, () => Math.floor(random() * 256));
      return sharp(Buffer.from(data), { raw: { width: 16, height: 16, channels: 3 } }).png().toFile(join(dir, i % 2 ? 'b' : 'a', `img${i}.png`));
    }),
  );
  writeFileSync(join(dir, 'a', 'broken.png'), 'not a png');
  return dir;
}

describe('npm run neurons --images (CLI)', () => {
  it('measures a convolution of the built-in model on the bundled sample; maxima equal a direct record', async () => {
    const { json, stdout } = await neuronsCli<ImageNeuronsFile>(['--images', 'sample', '--layer', 'conv3', '--max-images', '40', '--contexts', '2']);
    expect(json).toMatchObject({ version: 1, kind: 'neuron-polysemanticity', modality: 'image', layer: 'conv3', weightsLayer: 'conv3', batchNorm: null, threshold: 0.7, minMembers: 3 });
    expect(json).toMatchObject({ positionShape: [7, 7], images: 40, imagesRead: 40, rows: 40 * 49, rowsAvailable: 40 * 49, errors: [], notices: [] });
    expect(json.neurons.map((n) => n.index)).toEqual(Array.from({ length: 32 }, (_, i) => i));
    expect(json.histogram.reduce((a, b) => a + b, 0)).toBe(32);
    json.histogram.forEach((count, k) => expect(count).toBe(json.neurons.filter((n) => n.polysemanticity === k).length));

    const model = await loadModelForCli('default');
    const sample = await bundledSample();
    const recording = await recordActivations(model, { ...sample, count: 40 }, { layer: 'conv3', samplesPerInput: 'all' });
    model.dispose();
    const max = new Float32Array(32).fill(-Infinity);
    const { values } = recording.table;
    for (let i = 0; i < values.length; i++) max[i % 32] = Math.max(max[i % 32], values[i]);
    for (const n of json.neurons) {
      expect(n.maxActivation).toBeCloseTo(max[n.index], 5);
      expect(n.clusters.reduce((a, b) => a + b, 0)).toBe(n.clusteredExamples);
      expect(n.polysemanticity).toBe(n.clusters.filter((c) => c >= 3).length);
      n.topClusters.forEach((examples, k) => {
        expect(examples.length).toBe(Math.min(2, n.clusters[k]));
        for (const e of examples) {
          expect(e.image).toMatch(/^sample-00[0-3]\d$/);
          expect(e.position).toBe(e.y! * 7 + e.x!);
          expect(e.activation).toBeGreaterThanOrEqual(0.75 * n.maxActivation);
        }
      });
      if (n.examples > 0 && n.clusters.length <= 3) expect(Math.max(...n.topClusters.map((c) => c[0].activation))).toBe(n.maxActivation);
    }
    expect(stdout).toMatch(/conv3 of fashion-cnn \(built-in\): 32 neurons over 1,960 \(image, position\) rows of 40 images \(threshold 0\.7/);
  });

  it('reads a model folder and an image folder; by default measures the activation after a batch norm, and lists unreadable files', async () => {
    const [modelDir, imageDir] = await Promise.all([writeBatchNormModel(), writeImageFolder()]);
    const { json, stderr } = await neuronsCli<ImageNeuronsFile>(['--model', modelDir, '--images', imageDir, '--max-rows', '100', '--threshold', '0.5', '--neurons', '0-2']);
    expect(json).toMatchObject({ layer: 'act', weightsLayer: 'conv', batchNorm: 'bn', threshold: 0.5, positionShape: [14, 14], images: 9, imagesRead: 8 });
    expect([json.rows, json.rowsAvailable]).toEqual([8 * 11, 8 * 196]);
    expect(json.notices).toEqual(['Recorded 88 of 1,568 (image, position) rows of act (at most 100 rows, 11 seeded position(s) of 196 per image).']);
    expect(json.errors.map((e) => e.name)).toEqual(['a/broken.png']);
    expect(json.neurons.map((n) => n.index)).toEqual([0, 1, 2]);
    for (const e of json.neurons.flatMap((n) => n.topClusters.flat())) expect(e.label === 'a' || e.label === 'b').toBe(true);
    expect(stderr).toMatch(/skipped 1 input\(s\) that could not be read/);
    expect(await cliError(['--model', modelDir, '--images', imageDir, '--layer', 'pool'])).toMatch(/pool is a pooling layer \(MaxPooling2D\): it has no weights before its nonlinearity/);
    expect(await cliError(['--model', modelDir, '--images', 'sample'])).toMatch(/the bundled sample only fits the built-in model/);
  });
});
