import * as tf from '@tensorflow/tfjs';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildAtlasInNode, DEFAULT_TEXT_MODEL_DIR, loadModelForCli } from '../../src/cli/buildAtlas';
import { decodeImageFile } from '../../src/cli/nodeIo';
import type { AtlasFileJson } from '../../src/export/atlasFile';
import type { Atlas } from '../../src/compute/atlas';
import { parseAtlas } from '../../src/export/atlasFile';
import { chooseBackend } from '../../src/model/backend';
import { prepareImage } from '../../src/model/image/preprocess';
import { BUILT_IN_TEXT_MODEL_NAME, TextModel } from '../../src/model/text/textModel';
import { EOT } from '../../src/model/text/tokenizer';
import { createRng } from '../../src/lib/rng';
import { checkpointTensors, randomCheckpoint, writeSafetensors } from '../model/text/checkpoints';
import { TINY_GPT2, tinyGpt2Files, writeCheckpointFolder } from '../model/text/tinyGpt2';
import { tempDir } from '../tempDir';

const run = promisify(execFile);
const root = new URL('../..', import.meta.url).pathname;

interface CliRun {
  json: AtlasFileJson;
  /** The file as the app opens it: its binary columns read. */
  atlas: Atlas;
  stdout: string;
  stderr: string;
  npy?: Uint8Array;
  /** The .rows.npy beside it: each saved row's input and position. */
  npyRows?: Uint8Array;
}

async function atlasCli(args: string[], options: { saveActivations?: boolean } = {}): Promise<CliRun> {
  const dir = tempDir('text-cli-');
  const [out, npy] = [join(dir, 'atlas.json'), join(dir, 'acts.npy')];
  const save = options.saveActivations ? ['--save-activations', npy] : [];
  const { stdout, stderr } = await run('node', ['--import', 'tsx', 'src/cli/atlas.ts', ...args, ...save, '--out', out], { cwd: root, maxBuffer: 1 << 26 });
  const saved = options.saveActivations ? { npy: new Uint8Array(readFileSync(npy)), npyRows: new Uint8Array(readFileSync(join(dir, 'acts.rows.npy'))) } : {};
  const text = readFileSync(out, 'utf8');
  return { json: JSON.parse(text) as AtlasFileJson, atlas: parseAtlas(text), stdout, stderr, ...saved };
}

/** The CLI's stderr when it fails. */
async function cliError(args: string[]): Promise<string> {
  const failed = await run('node', ['--import', 'tsx', 'src/cli/atlas.ts', ...args, '--out', join(tempDir('text-cli-'), 'a.json')], { cwd: root }).then(
    () => null,
    (e: { stderr: string; code: number }) => e,
  );
  expect(failed?.code).toBe(1);
  return failed!.stderr;
}

/** A .npy file's shape and float32 (or int32) rows, read from the format's description. */
function readNpy(file: Uint8Array, dtype: '<f4' | '<i4' = '<f4'): { shape: number[]; values: Float32Array } {
  const headerLength = file[8] | (file[9] << 8);
  const header = new TextDecoder().decode(file.subarray(10, 10 + headerLength));
  expect(header).toContain(`'descr': '${dtype}', 'fortran_order': False`);
  const shape = /'shape': \((\d+), (\d+)\)/.exec(header)!.slice(1).map(Number);
  const data = file.slice(10 + headerLength).buffer;
  return { shape, values: dtype === '<f4' ? new Float32Array(data) : (new Int32Array(data) as unknown as Float32Array) };
}

/** The saved row of each of the atlas's points, found by its (input, position) in the .rows.npy. */
function savedRowOfPoints(atlas: Atlas, npyRows: Uint8Array): number[] {
  const { shape, values: places } = readNpy(npyRows, '<i4');
  expect(shape[1]).toBe(2);
  const rowOf = new Map<string, number>();
  for (let r = 0; r < shape[0]; r++) rowOf.set(`${places[2 * r]}:${places[2 * r + 1]}`, r);
  const { input: inputs, position } = atlas.points;
  return Array.from(inputs, (input, p) => {
    const row = rowOf.get(`${input}:${position[p]}`);
    expect(row).toBeDefined();
    return row!;
  });
}

/** A folder of documents: labelled sub-folders, one document longer than the context of 24, and bad files. */
function textFolder(): string {
  const dir = tempDir('text-docs-');
  mkdirSync(join(dir, 'narration'));
  mkdirSync(join(dir, 'dialogue'));
  writeFileSync(
    join(dir, 'narration', 'chapter1.txt'),
    'Call me Ishmael.\n\nSome years ago, never mind how long precisely, having little or no money in my purse, and nothing particular to interest me on shore, I thought I would sail about a little.\n\nIt is a way I have of driving off the spleen.',
  );
  writeFileSync(
    join(dir, 'dialogue', 'lines.jsonl'),
    ['{"text": "\\"Whale ho!\\""}', '{"text": "\\"Call me Queequeg,\\" said he.", "label": "speech"}', '{"text": broken', '{"text": "\\"There she blows!\\""}'].join('\n'),
  );
  writeFileSync(join(dir, 'dialogue', 'binary.txt'), new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0, 0, 0, 13, 1, 2, 3]));
  writeFileSync(join(dir, 'empty.txt'), '\n\n');
  writeFileSync(join(dir, 'notes.md'), '# not read');
  return dir;
}

let checkpoint: string;
beforeAll(async () => {
  await chooseBackend({ node: true });
  checkpoint = writeCheckpointFolder(tinyGpt2Files({ seed: 11 }));
});

describe('npm run atlas -- --text (CLI)', () => {
  it('builds a text atlas with every parameter written, and saves the points’ activations equal to a direct record', async () => {
    const args = ['--text', textFolder(), '--model', checkpoint, '--layer', 'h.1.mlp.act', '--samples', 'all', '--method', 'umap', '--metric', 'cosine'];
    args.push('--pca', '8', '--neighbors', '6', '--min-dist', '0.2', '--perplexity', '12', '--iterations', '60', '--grid', '4,8', '--min-count', '2', '--top-k', '5', '--seed', '3');
    const { json, atlas, stdout, stderr, npy, npyRows } = await atlasCli(args, { saveActivations: true });
    if (json.modality !== 'text') throw new Error(`expected a text atlas, got ${json.modality}`);
    expect(json.params).toEqual({
      method: 'umap', metric: 'cosine', pcaDims: 8, seed: 3, nNeighbors: 6, minDist: 0.2, perplexity: 12, iterations: 60,
      samplesPerInput: 'all', gridSizes: [4, 8], minCellCount: 2, topK: 5,
    });
    expect(json.model).toEqual({ name: expect.stringMatching(/^tiny-gpt2-/), kind: 'gpt2', nLayer: 2, nEmbd: 16, contextLength: 24, vocabSize: 50257, classNames: null });
    expect(json.layer).toEqual({ name: 'h.1.mlp.act', shape: [24, 64], dim: 64, positionShape: [24] });
    expect(json.inputs.tokenIds.every((ids) => ids[0] === EOT && ids.length <= 24)).toBe(true);
    expect(json.inputs.tokens.every((tokens) => tokens[0] === '<|endoftext|>')).toBe(true);
    expect(atlas.points.position).not.toContain(0);
    expect(atlas.points.position.length).toBe(json.inputs.tokenIds.reduce((n, ids) => n + ids.length - 1, 0));
    expect(atlas.inputs.predicted.every((p) => p === -1)).toBe(true);
    // Documents: 3 paragraphs (the second split into windows) and 3 good .jsonl lines.
    const windows = json.inputs.names.filter((n) => n.includes('paragraph 2 [window'));
    expect(windows.length).toBeGreaterThan(1);
    expect(json.inputs.names.length).toBe(5 + windows.length);
    expect(json.inputs.names).toContain('dialogue/lines.jsonl, line 2');
    expect(new Set(json.labelNames)).toEqual(new Set(['narration', 'dialogue', 'speech']));
    expect(json.notices).toContain(`1 document was longer than the model's context of 24 tokens and was split into ${windows.length} windows, each starting with <|endoftext|>.`);
    expect(json.levels.flatMap((l) => l.cells).some((c) => c.keys && c.keys.length > 0)).toBe(true);
    expect(stderr).toMatch(/skipped 4 input\(s\) that could not be read/);
    for (const bad of ['dialogue/binary.txt: a binary file', 'dialogue/lines.jsonl, line 3: not JSON', 'empty.txt: empty', 'notes.md: not a text file']) expect(stderr).toContain(bad);
    expect(stdout).toMatch(/wrote .*acts.npy: \d+ x 64 float32 activations \(every recorded row\)/);
    expect(parseAtlas(JSON.stringify(json)).modality).toBe('text');

    const { shape, values } = readNpy(npy!);
    expect(shape).toEqual([atlas.points.input.length, 64]);
    const saved = savedRowOfPoints(atlas, npyRows!);
    const model = await TextModel.fromFiles(tinyGpt2Files({ seed: 11 }), 'direct');
    json.inputs.tokenIds.forEach((ids, w) => {
      const direct = model.gpt2.record([Int32Array.from(ids)], 'h.1.mlp.act');
      const rows = direct.dataSync();
      direct.dispose();
      atlas.points.input.forEach((input, p) => {
        if (input !== w) return;
        const t = atlas.points.position[p];
        expect(Array.from(values.subarray(saved[p] * 64, (saved[p] + 1) * 64))).toEqual(Array.from(rows.subarray(t * 64, (t + 1) * 64)));
      });
    });
    model.dispose();
  });

  it('lists a GPT-2’s layers, marking the default', async () => {
    const { stdout } = await run('node', ['--import', 'tsx', 'src/cli/atlas.ts', '--model', checkpoint, '--list-layers'], { cwd: root });
    expect(stdout.trim().split('\n')).toEqual([
      'h.0.attn\t[24, 16]',
      'h.0.mlp.act\t[24, 64]',
      'h.0\t[24, 16]',
      'h.1.attn\t[24, 16]',
      'h.1.mlp.act\t[24, 64]\t(default)',
      'h.1\t[24, 16]',
    ]);
  });

  it('fails with a clear message for a config of another architecture, a truncated or incomplete checkpoint, and no documents', async () => {
    const docs = textFolder();
    const files = tinyGpt2Files({ seed: 11 });
    const replaced = (name: string, bytes: Uint8Array) => writeCheckpointFolder([...files.filter((f) => f.name !== name), { name, bytes }]);
    const llama = replaced('config.json', new TextEncoder().encode(JSON.stringify({ ...TINY_GPT2, model_type: 'llama' })));
    expect(await cliError(['--text', docs, '--model', llama])).toMatch(/error: config.json: This is a "llama" model; only GPT-2 \(model_type "gpt2"\) is supported\./);
    expect(await cliError(['--text', docs, '--model', checkpoint, '--labels', 'x.txt'])).toMatch(/--labels applies to image models, not to --text/);
    // The rest in process: the same function the command runs, without starting Node each time.
    const build = (model: string, text?: string) => buildAtlasInNode({ model, text, params: { gridSizes: [4] } });
    const weights = files[1].bytes as Uint8Array;
    await expect(build(replaced('model.safetensors', weights.subarray(0, weights.length - 64)), docs)).rejects.toThrow(/^model.safetensors is truncated/);
    const tensors = checkpointTensors(randomCheckpoint(TINY_GPT2, { seed: 1, dtype: 'F32', untiedHead: false }), { prefix: true });
    const incomplete = replaced('model.safetensors', writeSafetensors(tensors.filter((t) => t.name !== 'transformer.h.0.attn.c_proj.bias')));
    await expect(build(incomplete, docs)).rejects.toThrow(/^model.safetensors: The checkpoint has no tensor h.0.attn.c_proj.bias/);
    const blank = join(tempDir('text-empty-'), 'blank.txt');
    writeFileSync(blank, '  \n');
    await expect(build(checkpoint, blank)).rejects.toThrow(/^No documents in .*blank.txt: 1 file\(s\) or line\(s\) could not be read \(blank.txt: empty: it holds no text\)/);
    await expect(build(checkpoint)).rejects.toThrow(/is a GPT-2: pass --text <file\|folder>/);
    await expect(buildAtlasInNode({ model: checkpoint, text: docs, images: docs })).rejects.toThrow('Pass --images or --text, not both.');
  });

  it.runIf(existsSync(DEFAULT_TEXT_MODEL_DIR))('uses the built-in text model in models/text-gpt2 when --model is left out', async () => {
    const dir = tempDir('text-builtin-');
    const sample = readFileSync(join(root, 'public/text-sample/moby-dick-sample.jsonl'), 'utf8').split('\n').slice(0, 12).join('\n');
    writeFileSync(join(dir, 'sample.jsonl'), sample);
    const { json } = await atlasCli(['--text', join(dir, 'sample.jsonl'), '--samples', '2', '--grid', '4']);
    expect(json.modality).toBe('text');
    expect(json.model.name).toBe(BUILT_IN_TEXT_MODEL_NAME);
  });

  it.skipIf(existsSync(DEFAULT_TEXT_MODEL_DIR))('says so when the built-in text model is not there yet', async () => {
    expect(DEFAULT_TEXT_MODEL_DIR.endsWith(join('models', 'text-gpt2'))).toBe(true);
    expect(await cliError(['--text', textFolder()])).toMatch(/The built-in text model \(models\/text-gpt2\) is not in this checkout/);
  });
});

describe('--save-activations for images', () => {
  it('writes the pooled rows of the atlas’s points, equal to the model’s spatial mean', async () => {
    const dir = tempDir('npy-images-');
    const random = createRng(2);
    for (let i = 0; i < 8; i++) {
      const pixels = Buffer.from(Array.from({ length: 28 * 28 }, () => Math.floor(random() * 256)));
      await sharp(pixels, { raw: { width: 28, height: 28, channels: 1 } }).png().toFile(join(dir, `img${i}.png`));
    }
    const { json, atlas, npy, npyRows } = await atlasCli(['--images', dir, '--grid', '4', '--neighbors', '4'], { saveActivations: true });
    const { shape, values } = readNpy(npy!);
    const dim = json.layer.dim;
    expect(shape).toEqual([8, dim]);
    const saved = savedRowOfPoints(atlas, npyRows!);
    const model = await loadModelForCli('default');
    for (let p = 0; p < 8; p++) {
      const name = json.inputs.names[atlas.points.input[p]];
      const { input, pixels } = prepareImage(await decodeImageFile(join(dir, name)), { height: model.inputHeight, width: model.inputWidth, channels: model.inputChannels }, model.preprocessing);
      const batch = input.expandDims(0) as tf.Tensor4D;
      const { activation, probabilities } = model.run(batch, json.layer.name);
      const mean = tf.tidy(() => tf.mean(activation, [0, 1, 2]).dataSync());
      Array.from(values.subarray(saved[p] * dim, (saved[p] + 1) * dim)).forEach((v, k) => expect(v).toBeCloseTo(mean[k], 5));
      tf.dispose([input, pixels, batch, activation, probabilities ?? []]);
    }
    model.dispose();
  });
});
