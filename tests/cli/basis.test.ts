import { execFile } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { formatBasisTable, parseBasisArgs, readLabelsCsv, runBasis, type BasisReport } from '../../src/cli/basis';
import { loadModelForCli } from '../../src/cli/buildAtlas';
import { recordActivations } from '../../src/model/image/recordImages';
import { loadSampleFromDisk } from '../../src/model/image/sampleNode';
import { chooseBackend } from '../../src/model/backend';
import { folderProvider } from '../../src/cli/nodeIo';
import { encodeSae } from '../../src/model/sae/encode';
import { denseLatents } from '../../src/model/sae/sae';
import { tinyGpt2Files, writeCheckpointFolder } from '../model/text/tinyGpt2';
import { randomSae, writeSaeFolder } from './saeFolder';
import { tempDir } from '../tempDir';

const run = promisify(execFile);
const root = new URL('../..', import.meta.url).pathname;
const IMAGES = 48;

describe('parseBasisArgs', () => {
  it('fills the defaults and reads every flag', () => {
    expect(parseBasisArgs([])).toEqual({
      options: { model: 'default', k: 32, top: 20, rotations: 10, threshold: 0.5, seed: 0 },
      out: 'basis.json',
      listLayers: false,
    });
    const parsed = parseBasisArgs(['--model', 'm', '--layer', 'conv', '--images', 'imgs', '--samples', '4', '--k', '8', '--top', '5', '--rotations', '0', '--threshold', '0.8', '--seed=-3', '--preprocess', 'meanstd', '--input-size', '96', '--sae', 'sae/', '--out', 'o.json']);
    expect(parsed).toMatchObject({
      options: { model: 'm', layer: 'conv', images: 'imgs', samples: 4, k: 8, top: 5, rotations: 0, threshold: 0.8, seed: -3, sae: 'sae/', preprocessing: { range: 'meanstd' }, inputSize: 96 },
      out: 'o.json',
    });
    expect(parseBasisArgs(['--model', 'default-text', '--samples', 'all'])!.options).toMatchObject({ model: 'default-text', samples: 'all' });
    expect(parseBasisArgs(['--samples', 'pooled'])!.options.samples).toBe('pooled');
    expect(parseBasisArgs(['--list-layers'])!.listLayers).toBe(true);
    expect(parseBasisArgs(['--help'])).toBeNull();
  });

  it.each([
    [['--k', '1'], /--k must be a whole number of at least 2/],
    [['--top', '2.5'], /--top must be a whole number/],
    [['--rotations', '-1'], /--rotations/],
    [['--threshold', '0'], /--threshold is a label purity/],
    [['--threshold', '1.5'], /--threshold is a label purity/],
    [['--samples', '0'], /--samples/],
    [['--images', 'a', '--text', 'b'], /not both/],
    [['--model', 'default-text', '--images', 'a'], /needs an image model/],
    [['--text', 'a', '--preprocess', 'unit'], /--preprocess applies to image models/],
    [['--preprocess', 'centre'], /--preprocess must be/],
  ])('rejects %j', (args, message) => {
    expect(() => parseBasisArgs(args)).toThrow(message);
  });
});

describe('readLabelsCsv', () => {
  it("reads the ImageNet fixture's layout: classes told apart by index, named by name, quoted commas included", async () => {
    const dir = tempDir('basis-csv-');
    writeFileSync(join(dir, 'labels.csv'), 'file,class_index,wnid,class_name\na.jpg,134,n02012849,"crane"\nb.jpg,517,n03126707,"crane"\nc.jpg,7,n0,"cock, rooster"\nd.jpg,9,n1,\n');
    expect(await readLabelsCsv(join(dir, 'labels.csv'))).toEqual(
      new Map([['a.jpg', 'crane (134)'], ['b.jpg', 'crane (517)'], ['c.jpg', 'cock, rooster (7)'], ['d.jpg', '9']]),
    );
    writeFileSync(join(dir, 'names.csv'), 'file,class_name\na.jpg,canoe\n');
    expect(await readLabelsCsv(join(dir, 'names.csv'))).toEqual(new Map([['a.jpg', 'canoe']]));
    expect(await readLabelsCsv(join(dir, 'absent.csv'))).toBeNull();
    writeFileSync(join(dir, 'bad.csv'), 'name,label\na.jpg,1\n');
    await expect(readLabelsCsv(join(dir, 'bad.csv'))).rejects.toThrow(/expected a header with "file"/);
  });
});

let imageDir: string;
let flatDir: string;
beforeAll(async () => {
  await chooseBackend({ node: true });
  // A few of the bundled sample's images as files, in one sub-folder per class ('/' is not a folder name).
  const sample = await loadSampleFromDisk();
  imageDir = tempDir('basis-images-');
  flatDir = tempDir('basis-flat-');
  const csv = ['file,class_index,wnid,class_name'];
  const size = sample.width * sample.height;
  for (let i = 0; i < IMAGES; i++) {
    const label = sample.labelNames[sample.labels[i]].replace('/', '-');
    mkdirSync(join(imageDir, label), { recursive: true });
    const file = join(imageDir, label, `s${String(i).padStart(3, '0')}.png`);
    await sharp(Buffer.from(sample.images.subarray(i * size, (i + 1) * size)), { raw: { width: sample.width, height: sample.height, channels: 1 } }).png().toFile(file);
    copyFileSync(file, join(flatDir, `s${i}.png`));
    csv.push(`s${i}.png,${sample.labels[i]},w${sample.labels[i]},"${label}"`);
  }
  writeFileSync(join(flatDir, 'labels.csv'), `${csv.join('\n')}\n`);
});

/** Checks a report's directions against its own fields: distinct top inputs, purity from the listed labels. */
function checkDirections(report: BasisReport, top: number) {
  expect(report.directions).toHaveLength(2 * report.neurons);
  for (const d of report.directions) {
    expect(d.top).toHaveLength(top);
    expect(new Set(d.top.map((t) => t.input)).size).toBe(top);
    const activations = d.top.map((t) => t.activation);
    expect(activations).toEqual([...activations].sort((a, b) => b - a));
    if (d.purity === null) continue;
    const counts = new Map<string | null, number>();
    for (const t of d.top) counts.set(t.label, (counts.get(t.label) ?? 0) + 1);
    expect(d.purity).toBeCloseTo(Math.max(...counts.values()) / top, 12);
  }
}

describe('runBasis (built-in image model, a folder of sample images)', () => {
  it('scores neurons against random directions with folder labels; neuron activations match a direct record', async () => {
    const report = await runBasis({ model: 'default', images: imageDir, layer: 'conv3', k: 6, top: 5, rotations: 3, seed: 1 });
    expect(report).toMatchObject({
      version: 1,
      kind: 'neurons-vs-random',
      modality: 'image',
      layer: 'conv3',
      layerDim: 32,
      samplesPerInput: 'pooled',
      rows: IMAGES,
      inputs: { source: imageDir, count: IMAGES },
      labels: { source: 'sub-folder names', labelledRows: IMAGES },
      options: { k: 6, top: 5, rotations: 3, threshold: 0.5, seed: 1 },
      neurons: 6,
    });
    expect(report.labels.classes).toBeGreaterThan(5);
    expect(report.dissection!.rotated).toHaveLength(3);
    expect(report.summary.neuron.purity!.count).toBe(6);
    checkDirections(report, 5);
    for (const d of report.directions) for (const t of d.top) expect(t.input.startsWith(`${t.label}/`)).toBe(true);

    const model = await loadModelForCli('default');
    const recording = await recordActivations(model, await folderProvider(imageDir), { layer: 'conv3', samplesPerInput: 'pooled', thumbnailSize: 1 });
    model.dispose();
    for (const d of report.directions.filter((x) => x.kind === 'neuron')) {
      const column = recording.names.map((name, i) => ({ name, value: recording.table.values[i * 32 + d.index] }));
      column.sort((a, b) => b.value - a.value);
      expect(d.top.map((t) => t.input)).toEqual(column.slice(0, 5).map((c) => c.name));
      d.top.forEach((t, r) => expect(t.activation).toBeCloseTo(column[r].value, 5));
    }

    const table = formatBasisTable(report);
    expect(table).toMatch(/neurons vs random directions at fashion-cnn \(built-in\) \/ conv3 \(32-d, pooled\)/);
    expect(table).toMatch(/^purity\s+\d\.\d{3} ± \d\.\d{3}\s+\d\.\d{3} ± \d\.\d{3}\s+-?\d+\.\d{2}\s+\S+$/m);
    expect(table).toMatch(/Network Dissection \(purity >= 0\.5 over the top 5\): basis/);
  });

  it('takes labels from labels.csv and, with positions, top inputs distinct at their best position', async () => {
    const report = await runBasis({ model: 'default', images: flatDir, layer: 'conv2', samples: 3, k: 4, top: 6, rotations: 1 });
    expect(report).toMatchObject({ samplesPerInput: 3, rows: 3 * IMAGES, labels: { source: 'labels.csv', labelledRows: 3 * IMAGES }, unreadable: [] });
    checkDirections(report, 6);
    for (const d of report.directions) for (const t of d.top) expect(t.position).toBeGreaterThanOrEqual(0);
    expect(formatBasisTable(report)).toMatch(/3 position\(s\) per input, top inputs distinct/);
  });

  it('scores text rows with the token as the label', async () => {
    const checkpoint = writeCheckpointFolder(tinyGpt2Files({ seed: 3 }));
    const text = join(tempDir('basis-text-'), 'moby.txt');
    writeFileSync(text, 'Call me Ishmael.\n\nThe whale, the whale, the white whale swam past the ship and the sea.\n\nIt is a way I have of driving off the spleen.\n\nThe sea, the sea.');
    const report = await runBasis({ model: checkpoint, text, layer: 'h.1.mlp.act', k: 4, top: 3, rotations: 1 });
    expect(report).toMatchObject({ modality: 'text', layer: 'h.1.mlp.act', samplesPerInput: 'all', labels: { source: 'token ids' }, inputs: { count: 4 } });
    expect(report.notices.some((n) => n.includes('token ids'))).toBe(true);
    checkDirections(report, 3);
    for (const t of report.directions[0].top) {
      expect(t.label).toBe(t.token);
      expect(t.context!.endsWith(`[${t.token}]`)).toBe(true);
    }
  });
});

describe('npm run basis (CLI)', () => {
  it('writes the JSON and prints the table; fails clearly on a bad layer', async () => {
    const out = join(tempDir('basis-cli-'), 'basis.json');
    const { stdout } = await run('node', ['--import', 'tsx', 'src/cli/basis.ts', '--images', imageDir, '--layer', 'fc', '--k', '4', '--top', '4', '--rotations', '2', '--out', out], { cwd: root });
    const report = JSON.parse(readFileSync(out, 'utf8')) as BasisReport;
    expect(report).toMatchObject({ version: 1, layer: 'fc', layerDim: 64, options: { k: 4, top: 4, rotations: 2 } });
    expect(stdout).toMatch(/fc \(64-d, pooled\)/);
    expect(stdout).toMatch(/^coherence\s/m);
    expect(stdout).toContain(`wrote ${out}`);

    const failed = await run('node', ['--import', 'tsx', 'src/cli/basis.ts', '--images', imageDir, '--layer', 'nope', '--out', out], { cwd: root }).then(
      () => null,
      (e: { stderr: string; code: number }) => e,
    );
    expect(failed?.code).toBe(1);
    expect(failed!.stderr).toMatch(/error: Layer "nope" is not a recordable layer of this model\. Its layers: conv1, /);
  });
});

describe('runBasis and npm run basis with --sae (latents beside neurons and random directions)', () => {
  it("scores the SAE's latents by their own top inputs: activations equal the SAE's on a direct record", async () => {
    const sae = randomSae({ dIn: 64, dSae: 48, k: 8, layer: 'fc', seed: 5 });
    const dir = writeSaeFolder(sae, 'image');
    const report = await runBasis({ model: 'default', images: imageDir, layer: 'fc', k: 4, top: 4, rotations: 2, seed: 1, sae: dir });
    expect(report.sae).toMatchObject({ folder: dir, layer: 'fc', architecture: 'topk', k: 8, dSae: 48, latents: 4 });
    expect(report.sae!.l0).toBeCloseTo(8, 6);
    expect(report.definitions.latents).toMatch(/largest activation of it by the SAE/);
    const latents = report.directions.filter((d) => d.kind === 'latent');
    expect(latents).toHaveLength(4);
    expect(report.directions.slice(0, 2 * report.neurons).every((d) => d.kind !== 'latent')).toBe(true);
    expect(report.summary.latent!.coherence.count).toBe(4);
    expect(report.latentTests!.versusNeurons.purity).not.toBeNull();
    expect(report.dissection!.latent).toMatchObject({ units: 48 });
    expect(report.seconds.encode).toBeGreaterThanOrEqual(0);

    const model = await loadModelForCli('default');
    const recording = await recordActivations(model, await folderProvider(imageDir), { layer: 'fc', samplesPerInput: 'pooled', thumbnailSize: 1 });
    model.dispose();
    const dense = denseLatents(await encodeSae(sae, recording.table.values.subarray(0, IMAGES * 64)));
    let live = 0;
    for (let i = 0; i < 48; i++) if (Array.from({ length: IMAGES }, (_, r) => dense[r * 48 + i]).filter((v) => v > 0).length >= 4) live++;
    expect(report.sae!.liveLatents).toBe(live);
    for (const d of latents) {
      const column = recording.names.map((name, r) => ({ name, value: dense[r * 48 + d.index] })).sort((a, b) => b.value - a.value);
      expect(d.top.map((t) => t.input)).toEqual(column.slice(0, 4).map((c) => c.name));
      d.top.forEach((t, r) => expect(t.activation).toBeCloseTo(column[r].value, 4));
      expect(d.top[3].activation).toBeGreaterThan(0);
    }
    const table = formatBasisTable(report);
    expect(table).toMatch(/neurons vs latents vs random directions at fashion-cnn/);
    expect(table).toMatch(/4 latents \(seeded among \d+ live of 48\) of the SAE in /);
    expect(table).toMatch(/^purity\s.*\d\.\d{3} ± \d\.\d{3}\s+-?\d+\.\d{2} \(\S+\)\s+-?\d+\.\d{2} \(\S+\)$/m);
    expect(table).toMatch(/ {2}latents: \d\.\d{3} of 48 \(\d\.\d{3} of the \d+ live\); against the rotations p = /);
  });

  it('writes latent rows from the CLI; an SAE of another layer or width gets a message naming the folder', async () => {
    const out = join(tempDir('basis-cli-'), 'basis.json');
    const fcSae = writeSaeFolder(randomSae({ dIn: 64, dSae: 32, k: 4, layer: 'fc', seed: 2 }), 'image');
    const { stdout } = await run('node', ['--import', 'tsx', 'src/cli/basis.ts', '--images', imageDir, '--layer', 'fc', '--k', '3', '--top', '3', '--rotations', '1', '--sae', fcSae, '--out', out], { cwd: root });
    const report = JSON.parse(readFileSync(out, 'utf8')) as BasisReport;
    expect(report).toMatchObject({ version: 1, sae: { folder: fcSae, dSae: 32, latents: 3 } });
    expect(report.directions.filter((d) => d.kind === 'latent')).toHaveLength(3);
    expect(stdout).toMatch(/^coherence\s.*\(\S+\)$/m);

    const cliError = (sae: string) =>
      run('node', ['--import', 'tsx', 'src/cli/basis.ts', '--images', imageDir, '--layer', 'fc', '--sae', sae, '--out', out], { cwd: root }).then(
        () => null,
        (e: { stderr: string; code: number }) => e,
      );
    const conv3Sae = writeSaeFolder(randomSae({ dIn: 32, dSae: 16, k: 4, layer: 'conv3', seed: 3 }), 'image');
    const failed = await cliError(conv3Sae);
    expect(failed?.code).toBe(1);
    expect(failed!.stderr).toContain(`error: --sae ${conv3Sae}: The SAE reads conv3, not fc, the layer it is opened on.`);
    const narrow = writeSaeFolder(randomSae({ dIn: 32, dSae: 16, k: 4, layer: null, seed: 3 }), 'image');
    await expect(runBasis({ model: 'default', images: imageDir, layer: 'fc', k: 3, top: 3, rotations: 0, sae: narrow })).rejects.toThrow(
      `--sae ${narrow}: The SAE reads 32-wide activations (d_in), but layer fc is 64 wide.`,
    );
    await expect(runBasis({ model: 'default', images: imageDir, layer: 'fc', sae: join(narrow, 'absent') })).rejects.toThrow(/--sae .*absent: cannot read cfg\.json there \(ENOENT\)/);
  });
});
