import * as tf from '@tensorflow/tfjs';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAblateArgs } from '../../src/cli/ablate';
import { ablate, type AblateOptions } from '../../src/cli/ablateRun';
import { contextsFrom, directionOf } from '../../src/cli/directions';
import { parseSteerArgs } from '../../src/cli/steer';
import { steer, type SteerOptions } from '../../src/cli/steerRun';
import { chooseBackend } from '../../src/model/backend';
import { ablationTest, unitMeans } from '../../src/model/text/ablation';
import { windows as windowsOf } from '../../src/model/text/documents';
import { TextModel } from '../../src/model/text/textModel';
import { encode } from '../../src/model/text/tokenizer';
import { tinyGpt2Files } from '../model/text/tinyGpt2';
import { readTidy } from '../../src/model/readTensors';
import { tempDir } from '../tempDir';

const SEA = ['The ship sailed on the grey sea, and the waves broke over the bow.', 'Out on the open sea the whale rose beside the boat.'];
const LAND = ['The farmer walked across the dry field to the barn.', 'In the town the baker sold bread at the market square.'];

let model: TextModel;
let folder: string;
let options: AblateOptions;

beforeAll(async () => {
  await chooseBackend({ node: true });
  model = await TextModel.fromFiles(tinyGpt2Files({ seed: 3 }), 'tiny');
  folder = tempDir('ablate-');
  writeFileSync(join(folder, 'sea.txt'), SEA.join('\n\n'));
  writeFileSync(join(folder, 'land.txt'), LAND.join('\n\n'));
  writeFileSync(join(folder, 'texts.txt'), Array.from({ length: 4 }, (_, k) => `Call me Ishmael, said the sailor ${k} to the whale in the sea.`).join('\n\n'));
  options = { model: 'tiny', layer: 'h.1', direction: 'neuron:3', mode: 'project', random: 3, seed: 0, texts: join(folder, 'texts.txt'), contexts: 3, contextTokens: 32, sources: {} };
});
afterAll(() => model?.dispose());

describe('npm run ablate', () => {
  it('writes a versioned report; projecting a neuron\'s axis out is zero-ablating it', async () => {
    const projected = await ablate(options, model);
    const zeroed = await ablate({ ...options, mode: 'zero' }, model);
    expect(projected).toMatchObject({ version: 1, layer: 'h.1', mode: 'project', windows: 3, controls: 'random directions', random: 3 });
    expect(projected.predictions).toBe([0, 1, 2].reduce((n, k) => n + encode(`Call me Ishmael, said the sailor ${k} to the whale in the sea.`).length, 0));
    expect(projected.increase.randomValues).toHaveLength(3);
    expect(zeroed).toMatchObject({ mode: 'zero', controls: 'random units' });
    expect(zeroed.controlUnits).toHaveLength(3);
    expect(zeroed.clean).toBe(projected.clean);
    expect(zeroed.ablated).toBeCloseTo(projected.ablated, 5);
    expect(zeroed.ablated).not.toBe(zeroed.clean);
  });

  it('--watch scores only the predictions of those words, the ablation and its controls alike', async () => {
    const watched = await ablate({ ...options, watch: [' whale', ' sea'] }, model);
    // Each text predicts " whale" and " sea" once.
    expect(watched).toMatchObject({ predictions: 6, watch: [' whale', ' sea'], windows: 3 });
    expect(watched.increase.randomValues).toHaveLength(3);
    expect(watched.clean).not.toBeCloseTo((await ablate(options, model)).clean, 3);
    expect(parseAblateArgs(['--layer', 'h.1', '--direction', 'random:1', '--watch', ' sea, whale'])?.options?.watch).toEqual([' sea', ' whale']);
    await expect(ablate({ ...options, watch: [' Ishmaelite'] }, model)).rejects.toThrow('--watch:');
    expect(() => parseAblateArgs(['--images', 'sample', '--class', 'Bag', '--watch', ' sea'])).toThrow('--watch: for a GPT-2');
  });

  it('learns a texts: concept as the difference of the means of the two sides\' token rows', async () => {
    const sources = { negatives: join(folder, 'land.txt') };
    const v = await directionOf(`texts:${join(folder, 'sea.txt')}`, 16, 'h.1', sources, model.gpt2);
    const meanRow = (texts: string[]) => {
      const sum = new Float64Array(16);
      let n = 0;
      for (const text of texts) {
        for (const w of windowsOf(encode(text), model.contextLength)) {
          const rows = readTidy(() => model.gpt2.record([w], 'h.1'));
          for (let t = 1; t < w.length; t++, n++) for (let u = 0; u < 16; u++) sum[u] += rows[t * 16 + u];
        }
      }
      return sum.map((s) => s / n);
    };
    const [sea, land] = [meanRow(SEA), meanRow(LAND)];
    const difference = sea.map((s, u) => s - land[u]);
    const norm = Math.hypot(...difference);
    difference.forEach((d, u) => expect(v[u]).toBeCloseTo(d / norm, 5));
    const report = await ablate({ ...options, direction: `texts:${join(folder, 'sea.txt')}`, sources }, model);
    expect(report.direction).toBe(`texts:${join(folder, 'sea.txt')}`);
  });

  it('projects out a words: direction centred on the texts it measures, as Gpt2Model.wordsDirection makes it', async () => {
    const windows = await contextsFrom(options.texts, options.contexts, options.contextTokens, 'test');
    const expected = model.gpt2.wordsDirection('h.1', [encode(' sea')[0]], windows);
    const v = await directionOf('words:sea', 16, 'h.1', { centre: windows }, model.gpt2);
    expect(Array.from(v)).toEqual(Array.from(expected));
    await expect(directionOf('words:sea', 16, 'h.1', {}, model.gpt2)).rejects.toThrow('--direction words: needs texts to centre on.');
    const report = await ablate({ ...options, direction: 'words:sea' }, model);
    expect(report.increase.value).not.toBe(0);
  });

  it('sets a direction to its mean over --means (every window of those texts), against random directions set to theirs', async () => {
    const means = join(folder, 'sea.txt');
    const report = await ablate({ ...options, direction: 'random:7', mode: 'mean', means }, model);
    expect(report).toMatchObject({ mode: 'mean', controls: 'random directions', means, texts: options.texts });
    const windows = await contextsFrom(options.texts, options.contexts, options.contextTokens, 'test');
    const reference = SEA.flatMap((text) => windowsOf(encode(text), options.contextTokens));
    const direction = await directionOf('random:7', 16, 'h.1', {}, model.gpt2);
    const expected = await ablationTest(model.gpt2, 'h.1', windows, { kind: 'direction', direction }, 'mean', { random: 3, seed: 0, means: unitMeans(model.gpt2, 'h.1', reference) });
    expect(report.ablated).toBeCloseTo(expected.ablated, 6);
    expect(report.increase.randomValues).toEqual(expected.increase.randomValues.map((x) => expect.closeTo(x, 6)));
    // Without --means, the means are the measured texts' own: a different ablation.
    const own = await ablate({ ...options, direction: 'random:7', mode: 'mean' }, model);
    expect(own).not.toHaveProperty('means');
    expect(own.ablated).not.toBeCloseTo(report.ablated, 6);
    expect(parseAblateArgs(['--layer', 'h.1', '--direction', 'random:1', '--mode', 'mean', '--means', means])?.options).toMatchObject({ mode: 'mean', means });
    await expect(ablate({ ...options, direction: 'random:7', means }, model)).rejects.toThrow('--means sets what mean-ablation sets to; --mode is project.');
    expect(() => parseAblateArgs(['--images', 'sample', '--class', 'Bag', '--means', means])).toThrow('--means: for a GPT-2');
  });

  it('says what is wrong with the command line or the direction', async () => {
    expect(parseAblateArgs(['--help'])).toBeNull();
    expect(() => parseAblateArgs(['--direction', 'neuron:1'])).toThrow('Missing --layer.');
    expect(() => parseAblateArgs(['--layer', 'h.1', '--direction', 'neuron:1', '--mode', 'erase'])).toThrow('--mode must be project, zero, mean; got "erase".');
    expect(() => parseAblateArgs(['--layer', 'h.1', '--direction', 'neuron:1', '--random', '1'])).toThrow('--random must be a whole number of at least 2; got "1".');
    expect(parseAblateArgs(['--layer', 'h.1', '--direction', 'neuron:1'])?.options).toMatchObject({ mode: 'project', random: 20, contexts: 32 });
    await expect(ablate({ ...options, mode: 'zero', direction: 'random:1' }, model)).rejects.toThrow('--mode zero sets one unit: give --direction neuron:N, or --mode project or mean for "random:1".');
    await expect(ablate({ ...options, mode: 'zero', direction: 'neuron:16' }, model)).rejects.toThrow('h.1 has units 0..15; got neuron:16.');
    await expect(ablate({ ...options, direction: 'texts:sea.txt' }, model)).rejects.toThrow('--direction texts: needs --negatives');
    await expect(ablate({ ...options, layer: 'h.7' }, model)).rejects.toThrow('Layer "h.7" cannot be recorded');
    await expect(ablate({ ...options, contexts: 50 }, model)).rejects.toThrow('texts.txt gives 4 contexts of 2 tokens or more; 50 are needed (--contexts 50).');
  });
});

describe('npm run steer --random', () => {
  const base = (): SteerOptions => ({
    model: 'tiny', layer: 'h.1', direction: 'random:4', alpha: 6, prompt: 'The whale', tokens: 2, temperature: 0, topK: 0, seed: 0,
    text: join(folder, 'texts.txt'), contexts: 2, contextTokens: 12, sources: {},
  });

  it('tests the watched tokens\' rise against random directions of the same α, or of the same norm', async () => {
    const report = await steer({ ...base(), random: 3, watch: ['sea', 'whale'] }, model);
    const test = report.significance!;
    expect(test.tokens.map((t) => t.text)).toEqual([' sea', ' whale']);
    expect(test).toMatchObject({ controls: 'alpha', alpha: 6 });
    expect(test.norm).toBeCloseTo(6 * report.scale, 4);
    const sameNorm = (await steer({ ...base(), random: 3, watch: ['sea'], controls: 'norm' }, model)).significance!;
    sameNorm.randomNorms.forEach((n) => expect(n).toBeCloseTo(6 * report.scale, 4));
    expect(test.rise.randomValues).toHaveLength(3);
    expect(test.rise.value).toBeCloseTo(test.steered - test.clean, 12);
    expect(test.steered).not.toBe(test.clean);
    expect((await steer(base(), model)).significance).toBeUndefined();
  });

  it('says what is wrong with --random and --watch', async () => {
    await expect(steer({ ...base(), random: 3 }, model)).rejects.toThrow('--random needs --watch <words>');
    await expect(steer({ ...base(), random: 1, watch: ['sea'] }, model)).rejects.toThrow('--random must be 0 or a whole number of at least 2; got 1.');
    await expect(steer({ ...base(), random: 2, watch: ['Ishmaelite'] }, model)).rejects.toThrow(/^--watch: "Ishmaelite" is \d+ GPT-2 tokens/);
    expect(parseSteerArgs(['--layer', 'h.1', '--direction', 'neuron:1', '--prompt', 'x', '--alpha', '2', '--random', '5', '--watch', 'sea, ship'])?.options).toMatchObject({ random: 5, watch: ['sea', ' ship'], controls: 'alpha' });
    expect(() => parseSteerArgs(['--layer', 'h.1', '--direction', 'neuron:1', '--prompt', 'x', '--alpha', '2', '--controls', 'same'])).toThrow('--controls must be alpha or norm; got "same".');
  });
});
