import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadTextModelForCli } from '../../src/cli/buildAtlas';
import { directionOf } from '../../src/cli/directions';
import { parseSteerArgs } from '../../src/cli/steer';
import { steer, type SteerOptions } from '../../src/cli/steerRun';
import { chooseBackend } from '../../src/model/backend';
import { TextModel } from '../../src/model/text/textModel';
import { tinyGpt2Files } from '../model/text/tinyGpt2';
import { randomSae, writeSaeFolder } from './saeFolder';
import { tempDir } from '../tempDir';

/** The built-in model's bundled sample (Moby-Dick paragraphs it was not trained on). */
const SAMPLE_TEXTS = join(import.meta.dirname, '../../public/text-sample/moby-dick-sample.jsonl');

let model: TextModel;
let options: SteerOptions;

beforeAll(async () => {
  await chooseBackend({ node: true });
  model = await TextModel.fromFiles(tinyGpt2Files({ seed: 3 }), 'tiny');
  const text = join(tempDir('steer-'), 'texts.txt');
  writeFileSync(text, Array.from({ length: 8 }, (_, k) => `Call me Ishmael, said the sailor ${k} to the whale in the sea.`).join('\n'));
  options = {
    model: 'tiny', layer: 'h.1', direction: 'neuron:3', alpha: 0, prompt: 'The whale', tokens: 6, temperature: 0, topK: 0, seed: 0,
    text, contexts: 4, contextTokens: 16, sources: {},
  };
});
afterAll(() => model?.dispose());

describe('npm run steer', () => {
  it('with α = 0 and greedy decoding is plain generation: the same tokens, no change in the held-out distribution', async () => {
    const report = await steer(options, model);
    expect(report.steered.ids).toEqual(report.unsteered.ids);
    expect(report.unsteered.ids).toHaveLength(6);
    expect(report.promptIds.length).toBeGreaterThan(0);
    expect(report.heldOut).toMatchObject({ contexts: 4, klMean: 0 });
    expect(report.heldOut.promoted.every((t) => t.change === 0)).toBe(true);
    expect(report.scale).toBeGreaterThan(0);
  });

  it('moves the next-token distribution along a direction, more with a larger α', async () => {
    const small = await steer({ ...options, direction: 'random:2', alpha: 2 }, model);
    const large = await steer({ ...options, direction: 'random:2', alpha: 8 }, model);
    expect(small.heldOut.klMean).toBeGreaterThan(0);
    expect(large.heldOut.klMean).toBeGreaterThan(small.heldOut.klMean);
    expect(large.heldOut.promoted[0].change).toBeGreaterThan(0);
    expect(large.heldOut.suppressed[0].change).toBeLessThan(0);
  });

  it('steers along words: (what the logits read as them), and says why not at an MLP layer or of a word of many tokens', async () => {
    const report = await steer({ ...options, direction: 'words:sea,whale', alpha: 4, random: 2, watch: ['sea', 'whale'] }, model);
    expect(report.direction).toBe('words:sea,whale');
    expect(report.significance!.rise.value).toBeGreaterThan(0);
    await expect(steer({ ...options, layer: 'h.1.mlp.act', direction: 'words:sea' }, model)).rejects.toThrow(/lives in the residual stream/);
    await expect(steer({ ...options, direction: 'words:Ishmaelite' }, model)).rejects.toThrow(/GPT-2 tokens/);
  });

  it('says what is wrong with a direction or a flag', async () => {
    await expect(steer({ ...options, direction: 'neuron:99' }, model)).rejects.toThrow('h.1 has units 0..15; got neuron:99.');
    await expect(steer({ ...options, direction: 'latent:1' }, model)).rejects.toThrow('--direction latent: needs --sae <folder>.');
    await expect(steer({ ...options, direction: 'cell:1,2' }, model)).rejects.toThrow('--direction cell: needs --atlas <file>.');
    await expect(steer({ ...options, direction: 'north' }, model)).rejects.toThrow(/--direction must be neuron:N, random:SEED/);
    expect(() => parseSteerArgs(['--layer', 'h.1', '--direction', 'neuron:1', '--prompt', 'x'])).toThrow('Missing --alpha.');
    expect(() => parseSteerArgs(['--layer', 'h.1', '--direction', 'neuron:1', '--prompt', 'x', '--alpha', 'big'])).toThrow('--alpha must be a number; got "big".');
  });
});

describe('--direction latent:N', () => {
  it("is the --sae folder's decoder row N; a folder of another layer or none is a message naming it", async () => {
    const sae = randomSae({ dIn: 16, dSae: 32, k: 4, layer: 'h.1', seed: 5 });
    const folder = writeSaeFolder(sae, 'text');
    const v = await directionOf('latent:5', 16, 'h.1', { sae: folder }, model.gpt2);
    Array.from(v).forEach((x, j) => expect(x).toBeCloseTo(sae.weights.W_dec[5 * 16 + j], 6));
    const report = await steer({ ...options, direction: 'latent:5', alpha: 2, sources: { sae: folder } }, model);
    expect(report.heldOut.klMean).toBeGreaterThan(0);
    await expect(directionOf('latent:32', 16, 'h.1', { sae: folder }, model.gpt2)).rejects.toThrow('The SAE has latents 0..31; got latent:32.');
    await expect(directionOf('latent:5', 16, 'h.0', { sae: folder }, model.gpt2)).rejects.toThrow(`--sae ${folder}: The SAE reads h.1 (hook_name blocks.1.hook_resid_post), not h.0`);
    const empty = tempDir('no-sae-');
    await expect(directionOf('latent:5', 16, 'h.1', { sae: empty }, model.gpt2)).rejects.toThrow(`--sae ${empty}: cannot read cfg.json there`);
  });
});

describe('npm run steer on the built-in GPT-2', () => {
  it("along words: of the sea words at h.3 raises their probability beyond every random direction (the sea test's control b)", async () => {
    const builtIn = await loadTextModelForCli('default');
    try {
      const sea = ['sea', 'ship', 'boat', 'waves', 'water'];
      const report = await steer(
        { ...options, model: 'default', layer: 'h.3', direction: `words:${sea.join(',')}`, alpha: 4, text: SAMPLE_TEXTS, contexts: 4, contextTokens: 64, random: 4, watch: sea },
        builtIn,
      );
      const { clean, steered, rise } = report.significance!;
      expect(steered).toBeGreaterThan(3 * clean);
      expect(rise.value).toBeGreaterThan(Math.max(...rise.randomValues));
      expect(rise.pT).toBeLessThan(0.05);
    } finally {
      builtIn.dispose();
    }
  });
});
