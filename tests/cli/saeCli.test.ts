import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { SaeReport } from '../../src/cli/sae';
import type { AtlasOf } from '../../src/compute/atlas';
import { parseAtlas } from '../../src/export/atlasFile';
import { chooseBackend } from '../../src/model/backend';
import { encodeSae, measureSae } from '../../src/model/sae/encode';
import { saeLossRecovered } from '../../src/model/sae/lossRecovered';
import { readSaeLens } from '../../src/model/sae/saelens';
import { windows as windowsOf } from '../../src/model/text/documents';
import { TextModel } from '../../src/model/text/textModel';
import { encode } from '../../src/model/text/tokenizer';
import { createRng } from '../../src/lib/rng';
import { tinyGpt2Files, writeCheckpointFolder } from '../model/text/tinyGpt2';
import { npyFloat32 } from '../../src/export/npy';
import { cliFailure, root, run } from './cliRun';
import { MOBY_PARAGRAPHS as PARAGRAPHS } from './paragraphs';
import { tempDir } from '../tempDir';



async function saeCli(args: string[]): Promise<{ dir: string; report: SaeReport; stdout: string; stderr: string }> {
  const dir = join(tempDir('sae-cli-'), 'sae');
  const { stdout, stderr } = await run('node', ['--import', 'tsx', 'src/cli/sae.ts', ...args, '--threads', '1', '--out', dir], { cwd: root, maxBuffer: 1 << 26 });
  return { dir, report: JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8')) as SaeReport, stdout, stderr };
}

const cliError = (args: string[]) => cliFailure('src/cli/sae.ts', [...args, '--out', join(tempDir('sae-cli-'), 'sae')]);

let checkpoint: string;
let textFile: string;
beforeAll(async () => {
  await chooseBackend({ node: true });
  checkpoint = writeCheckpointFolder(tinyGpt2Files({ seed: 11 }));
  textFile = join(tempDir('sae-text-'), 'moby.txt');
  writeFileSync(textFile, PARAGRAPHS.join('\n\n'));
});

describe('npm run sae (CLI)', () => {
  it('trains on a GPT-2 layer; the SAELens files reopen and encode the recorded rows as the report says', async () => {
    const layer = 'h.1.mlp.act';
    const { dir, report, stdout, stderr } = await saeCli(['--model', checkpoint, '--text', textFile, '--layer', layer, '--latents', '48', '--k', '4', '--epochs', '3', '--top-examples', '3', '--loss-windows', '4', '--epoch-loss', '--latent-atlas']);
    expect(stderr).toMatch(/train epoch 3\/3/);
    expect(stdout).toMatch(/loss recovered/);
    expect(report).toMatchObject({ version: 1, kind: 'sae-report', modality: 'text', layer, hookName: 'blocks.1.mlp.hook_post', width: 64 });
    expect(report.settings).toMatchObject({ architecture: 'topk', latents: 48, k: 4, epochs: 3, seed: 0 });
    expect(report.epochs).toHaveLength(3);
    for (const epoch of report.epochs) for (const key of ['mse', 'fve', 'l0', 'deadLatents'] as const) expect(Number.isFinite(epoch[key])).toBe(true);
    expect(report.latents).toHaveLength(48);
    expect(report.lossRecovered).toMatchObject({ windows: 4 });
    for (const key of ['clean', 'spliced', 'zero', 'lossRecovered'] as const) expect(Number.isFinite(report.lossRecovered![key])).toBe(true);
    // --epoch-loss: each epoch's SAE spliced in at its end; the last is the SAE written, whose loss recovered is the report's.
    expect(report.epochs.map((e) => e.lossRecovered?.windows)).toEqual([4, 4, 4]);
    expect(report.epochs[2].lossRecovered).toEqual(report.lossRecovered);
    expect(stderr).toMatch(/epoch 3\/3: loss recovered \d\.\d{3} over 4 windows/);

    const sae = readSaeLens(
      { cfg: readFileSync(join(dir, 'cfg.json'), 'utf8'), weights: readFileSync(join(dir, 'sae_weights.safetensors')) },
      { modality: 'text', target: { layer, width: 64 } },
    );
    expect(sae.config).toMatchObject({ architecture: 'topk', dIn: 64, dSae: 48, k: 4, layer });

    // Every recorded row (each window's tokens but <|endoftext|>), recorded directly: the report's figures come back.
    const model = await TextModel.fromFiles(tinyGpt2Files({ seed: 11 }), 'tiny');
    const rows: number[] = [];
    for (const ids of PARAGRAPHS.flatMap((p) => windowsOf(encode(p), 24))) {
      const recorded = model.record([ids], layer);
      const values = await recorded.data();
      recorded.dispose();
      rows.push(...values.subarray(64));
    }
    const direct = await saeLossRecovered(model.gpt2, sae, layer, PARAGRAPHS.flatMap((p) => windowsOf(encode(p), 24)).slice(0, 4));
    expect(report.lossRecovered!.lossRecovered).toBeCloseTo(direct.lossRecovered, 5);
    model.dispose();
    expect(report.rows).toBe(rows.length / 64);
    const activations = Float32Array.from(rows);
    const measured = await measureSae(sae, activations);
    expect(report.final.fve).toBeCloseTo(measured.fve, 4);
    expect(report.final.deadLatents).toBe(measured.deadLatents);
    const latents = await encodeSae(sae, activations);
    for (const latent of report.latents) {
      expect(latent.frequency).toBeCloseTo(measured.frequency[latent.index], 6);
      expect(latent.maxActivation).toBeCloseTo(measured.maxActivation[latent.index], 4);
      expect(latent.topExamples.length).toBe(Math.min(3, Math.round(latent.frequency * report.rows)));
      if (latent.topExamples.length === 0) continue;
      const [first] = latent.topExamples;
      expect(first.activation).toBeCloseTo(latent.maxActivation, 4);
      expect(first.context).toContain(`[${first.token}]`);
      expect(first.position).toBeGreaterThan(0);
      for (let j = 1; j < latent.topExamples.length; j++) expect(latent.topExamples[j].activation).toBeLessThanOrEqual(latent.topExamples[j - 1].activation);
    }
    expect(latents.count).toBe(report.rows);
    // Polysemanticity: the histogram counts every latent; each latent's clusters cover its examples.
    expect(report.polysemanticity).toMatchObject({ threshold: 0.5, minMembers: 3, exampleFraction: 0.75, maxExamples: 2000 });
    expect(report.polysemanticity.histogram.reduce((a, b) => a + b, 0)).toBe(48);
    for (const latent of report.latents) {
      expect(latent.polysemanticity).toBe(latent.clusters.filter((size) => size >= 3).length);
      expect(latent.examples === 0).toBe(latent.frequency === 0);
    }

    // The latent atlas: every live latent a point at its unit decoder row, named by its top tokens.
    const live = report.latents.filter((l) => l.frequency > 0);
    expect(stdout).toMatch(new RegExp(`wrote .*latent-atlas\\.json: ${live.length} live latents of 48 by their decoder rows`));
    const atlas = parseAtlas(readFileSync(join(dir, 'latent-atlas.json'), 'utf8'));
    expect(atlas).toMatchObject({ modality: 'precomputed', model: { name: `${report.model} ${layer}: SAE latents` } });
    expect(atlas.points.input.length).toBe(live.length);
    const texts = (atlas as AtlasOf<'precomputed'>).inputs.texts!;
    live.forEach((latent, row) => {
      const tokens = latent.topExamples.map((e) => e.token!.trim() || e.token!);
      expect(texts[row]!.startsWith(`#${latent.index} · `)).toBe(true);
      // Its label, a cell's heading, is the token most common among its top examples.
      const label = atlas.labelNames[atlas.inputs.label[row]];
      expect(tokens.filter((t) => t === label).length).toBe(Math.max(...tokens.map((t) => tokens.filter((u) => u === t).length)));
    });
    const npy = readFileSync(join(dir, 'latents.npy'));
    const decoderRows = new Float32Array(npy.buffer.slice(npy.byteOffset + npy.length - live.length * 64 * 4, npy.byteOffset + npy.length));
    live.forEach((latent, row) => {
      const w = sae.weights.W_dec.subarray(latent.index * 64, (latent.index + 1) * 64);
      const norm = Math.hypot(...w);
      for (let j = 0; j < 64; j++) expect(decoderRows[row * 64 + j]).toBeCloseTo(w[j] / norm, 6);
    });
  }, 60_000);

  it('trains on an .npy of rows with a seeded --sample, and says so', async () => {
    const random = createRng(3);
    const values = Float32Array.from({ length: 600 * 8 }, () => random() - 0.5);
    const npy = join(tempDir('sae-npy-'), 'acts.npy');
    writeFileSync(npy, npyFloat32(values, [600, 8]));
    const { report, stderr } = await saeCli(['--activations', npy, '--latents', '16', '--k', '2', '--epochs', '2', '--sample', '400', '--top-examples', '2']);
    expect(report).toMatchObject({ modality: 'precomputed', layer: 'activations', hookName: 'activations', width: 8, rows: 400, rowsRecorded: 600, lossRecovered: null });
    expect(stderr).toMatch(/--sample: trained on a seeded 400 of 600 rows/);
    const example = report.latents.find((l) => l.topExamples.length > 0)!.topExamples[0];
    expect(example.input).toMatch(/^row \d+$/);
    expect(example.position).toBe(-1);
  }, 30_000);

  it('bad flags and layers get a clear message and exit code 1', async () => {
    expect(await cliError(['--model', checkpoint, '--text', textFile, '--latents', '8', '--k', '16'])).toMatch(/--k \(16\) cannot exceed --latents \(8\)/);
    expect(await cliError(['--model', checkpoint, '--text', textFile, '--layer', 'h.7.mlp.act'])).toMatch(/h\.7\.mlp\.act.*cannot be recorded|not a layer/);
    expect(await cliError(['--model', checkpoint, '--text', textFile, '--architecture', 'gated'])).toMatch(/--architecture must be topk or relu/);
    expect(await cliError(['--text', textFile, '--activations', 'x.npy'])).toMatch(/one of --text, --images and --activations/);
    expect(await cliError(['--model', checkpoint, '--text', textFile, '--loss-windows', '0', '--epoch-loss'])).toMatch(/--epoch-loss measures loss recovered, on a GPT-2 layer \(--text\) over --loss-windows windows \(not 0\)/);
    const npy = join(tempDir('sae-npy-'), 'acts.npy');
    writeFileSync(npy, npyFloat32(new Float32Array(40 * 8).map((_, i) => Math.sin(i)), [40, 8]));
    // Width 8: 64 latents unless given.
    expect(await cliError(['--activations', npy, '--k', '100'])).toMatch(/k \(100\) exceeds the number of latents \(64\)/);
    expect(await cliError(['--activations', npy, '--layer', 'conv3'])).toMatch(/--layer cannot go with --activations/);
  }, 30_000);
});
