import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import type { NeuronsFile } from '../../src/cli/neurons';
import { chooseBackend } from '../../src/model/backend';
import { windows as windowsOf } from '../../src/model/text/documents';
import { TextModel } from '../../src/model/text/textModel';
import { encode } from '../../src/model/text/tokenizer';
import { tinyGpt2Files, writeCheckpointFolder } from '../model/text/tinyGpt2';

const run = promisify(execFile);
const root = new URL('../..', import.meta.url).pathname;

const PARAGRAPHS = [
  'Call me Ishmael.',
  'Some years ago, never mind how long precisely, having little or no money in my purse, and nothing particular to interest me on shore, I thought I would sail about a little and see the watery part of the world.',
  'It is a way I have of driving off the spleen and regulating the circulation.',
  'Whenever I find myself growing grim about the mouth; whenever it is a damp, drizzly November in my soul, then I account it high time to get to sea as soon as I can.',
];

async function neuronsCli(args: string[]): Promise<{ json: NeuronsFile; stdout: string; stderr: string }> {
  const out = join(mkdtempSync(join(tmpdir(), 'neurons-cli-')), 'neurons.json');
  const { stdout, stderr } = await run('node', ['--import', 'tsx', 'src/cli/neurons.ts', ...args, '--out', out], { cwd: root, maxBuffer: 1 << 26 });
  return { json: JSON.parse(readFileSync(out, 'utf8')) as NeuronsFile, stdout, stderr };
}

async function cliError(args: string[]): Promise<string> {
  const failed = await run('node', ['--import', 'tsx', 'src/cli/neurons.ts', ...args, '--out', join(mkdtempSync(join(tmpdir(), 'neurons-cli-')), 'n.json')], { cwd: root }).then(
    () => null,
    (e: { stderr: string; code: number }) => e,
  );
  expect(failed?.code).toBe(1);
  return failed!.stderr;
}

let checkpoint: string;
let textFile: string;
beforeAll(async () => {
  await chooseBackend({ node: true });
  checkpoint = writeCheckpointFolder(tinyGpt2Files({ seed: 11 }));
  textFile = join(mkdtempSync(join(tmpdir(), 'neurons-text-')), 'moby.txt');
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
    expect(await cliError(['--images', tmpdir()])).toMatch(/--images is not supported yet/);
    expect(await cliError(['--model', checkpoint, '--text', textFile, '--layer', 'h.1'])).toMatch(/MLP neurons \(h\.I\.mlp\.act\); h\.1 is not one/);
    expect(await cliError(['--model', checkpoint, '--text', textFile, '--neurons', '5-2'])).toMatch(/runs backwards/);
    expect(await cliError(['--model', checkpoint, '--text', textFile, '--neurons', '70'])).toMatch(/neurons 0-63; got 70/);
    expect(await cliError(['--model', checkpoint, '--text', textFile, '--threshold', '2'])).toMatch(/--threshold must be a number from -1 to 1/);
  });
});
