import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_ATLAS_PARAMS } from '../../../src/compute/atlas';
import { randomDirections } from '../../../src/compute/directions/vectors';
import { chooseBackend } from '../../../src/model/backend';
import type { SessionDeps, SteerPromptRequest, SteerToken } from '../../../src/model/session';
import { windows as windowsOf } from '../../../src/model/text/documents';
import { generate } from '../../../src/model/text/generate';
import { TextModel } from '../../../src/model/text/textModel';
import { TextSession } from '../../../src/model/text/textSession';
import { encode } from '../../../src/model/text/tokenizer';
import { tinyGpt2Files } from './tinyGpt2';

const unused = () => {
  throw new Error('not used by this test');
};
const DEPS: SessionDeps = { loadSample: unused, loadTextSample: unused, decodeImage: unused, encodePng: unused };
const TEXTS = Array.from({ length: 6 }, (_, k) => ({ name: `t${k}`, label: null, text: `Call me Ishmael, said sailor ${k}. The whale rose from the sea, and the ship turned to the wind and the deep.` }));

let session: TextSession;
let request: SteerPromptRequest;

beforeAll(async () => {
  await chooseBackend({ node: true });
  session = new TextSession(await TextModel.fromFiles(tinyGpt2Files({ seed: 5 }), 'tiny'), DEPS);
  request = { layer: 'h.1', direction: randomDirections(16, 1, 4), alpha: 6, prompt: 'The whale', maxTokens: 5, temperature: 0, topK: 0, seed: 0 };
});
afterAll(() => session?.dispose());

describe("the page's steering (TextSession.steer)", () => {
  it('needs a recording: its texts are the contexts of the scale and of the held-out measure', async () => {
    await expect(session.steer(request, {})).rejects.toThrow(/Build an atlas first/);
    await session.record({ kind: 'text', texts: TEXTS }, { layer: 'h.1', params: DEFAULT_ATLAS_PARAMS }, { signal: new AbortController().signal, onProgress: () => {} });
  });

  it('streams both continuations token by token; the unsteered one is plain generation', async () => {
    const before = tf.memory().numTensors;
    const streamed: SteerToken[] = [];
    const result = await session.steer(request, { onToken: (t) => streamed.push(t) });
    // The model keeps one tensor for generation, made at its first (its unembedding's columns, freed by dispose).
    expect(tf.memory().numTensors).toBe(before + 1);
    const plain = await generate(session.model.gpt2, encode('The whale'), { maxTokens: 5 });
    expect(result.unsteered.ids).toEqual(plain.ids);
    expect(result.promptIds).toEqual(Array.from(encode('The whale')));
    expect(streamed.filter((t) => t.side === 'unsteered').map((t) => t.text).join('')).toBe(result.unsteered.text);
    expect(streamed.filter((t) => t.side === 'steered').map((t) => t.text).join('')).toBe(result.steered.text);
    // The two take turns: the stream interleaves them rather than giving one whole, then the other.
    expect(streamed.slice(0, 2).map((t) => t.side).sort()).toEqual(['steered', 'unsteered']);
    expect(result.scale).toBeGreaterThan(0);
    // The 6 texts are 12 windows of the tiny model's 24 positions: each text's head (24 tokens) then its tail (6).
    // The contexts alternate, so the heads measure the scale and the tails are held out: 6 of 6 tokens, 36 positions.
    expect(result.scaleContexts).toBe(6);
    expect(result.heldOut.contexts).toBe(6);
    expect(result.heldOut.positions).toBe(36);
    expect(result.heldOut.klMean).toBeGreaterThan(0);
  });

  it('with α = 0 the two continuations are the same and the held-out distribution does not move; no tensor is left behind', async () => {
    const before = tf.memory().numTensors;
    const result = await session.steer({ ...request, alpha: 0 }, {});
    expect(tf.memory().numTensors).toBe(before);
    expect(result.steered.ids).toEqual(result.unsteered.ids);
    expect(result.heldOut.klMean).toBe(0);
  });

  it('refuses an empty prompt, α not a number and a direction of another width, with the reason; a cancel stops it', async () => {
    await expect(session.steer({ ...request, prompt: '' }, {})).rejects.toThrow('The prompt is empty');
    await expect(session.steer({ ...request, alpha: NaN }, {})).rejects.toThrow('α must be a number');
    await expect(session.steer({ ...request, direction: new Float32Array(64) }, {})).rejects.toThrow('A direction in h.1 has 16 components; got 64.');
    await expect(session.steer({ ...request, layer: 'h.9' }, {})).rejects.toThrow(/h\.9/);
    await expect(session.steer({ ...request, direction: new Float32Array(16) }, {})).rejects.toThrow(/no component along this direction/);
    const before = tf.memory().numTensors;
    const abort = new AbortController();
    let seen = 0;
    const stopped = session.steer({ ...request, maxTokens: 50 }, { signal: abort.signal, onToken: () => ++seen === 4 && abort.abort() });
    await expect(stopped).rejects.toThrow(/cancelled/);
    expect(seen).toBeLessThan(10);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('with watched words, tests their rise over the held-out contexts against random directions; a word of two tokens is refused before any token', async () => {
    const before = tf.memory().numTensors;
    const result = await session.steer({ ...request, watch: ['sea', 'ship'], random: 3 }, {});
    expect(tf.memory().numTensors).toBe(before);
    const test = result.significance!;
    expect(test.tokens.map((t) => t.text)).toEqual([' sea', ' ship']);
    expect(test.rise.randomValues).toHaveLength(3);
    expect(test.rise.value).toBeCloseTo(test.steered - test.clean, 12);
    expect(test.positions).toBe(result.heldOut.positions);
    expect((await session.steer(request, {})).significance).toBeUndefined();
    let tokens = 0;
    await expect(session.steer({ ...request, watch: ['Ishmaelite'], random: 3 }, { onToken: () => tokens++ })).rejects.toThrow(/GPT-2 tokens .*: watch comma-separated words of one token each/);
    expect(tokens).toBe(0);
  });
});

describe("the page's words direction (TextSession.wordsDirection)", () => {
  it("is Gpt2Model.wordsDirection centred on the steering scale's contexts (every other context); a word of two tokens is refused", () => {
    const before = tf.memory().numTensors;
    const v = session.wordsDirection('h.1', ['whale', ' sea ']);
    expect(tf.memory().numTensors).toBe(before);
    // The recording's 12 contexts alternate head, tail (windows of the tiny model's 24 positions): the scale's are the 6 heads.
    const heads = TEXTS.flatMap((t) => Array.from(windowsOf(encode(t.text), 24)[0]));
    const expected = session.model.gpt2.wordsDirection('h.1', [encode(' whale')[0], encode(' sea')[0]], [Int32Array.from(heads)]);
    Array.from(v).forEach((x, k) => expect(x).toBeCloseTo(expected[k], 6));
    expect(() => session.wordsDirection('h.1', ['Ishmaelite'])).toThrow(/GPT-2 tokens/);
    expect(() => session.wordsDirection('h.1.mlp.act', ['sea'])).toThrow(/lives in the residual stream/);
  });
});

describe("the page's ablation (TextSession.ablate)", () => {
  it('tests a projection against random projections over the first contexts of the recording; no tensor is left behind', async () => {
    const before = tf.memory().numTensors;
    const result = await session.ablate({ layer: 'h.1', target: { kind: 'direction', direction: request.direction }, mode: 'project', contexts: 3, random: 3, seed: 1 }, {});
    expect(tf.memory().numTensors).toBe(before);
    expect(result.windows).toBe(3);
    expect(result.controls).toBe('random directions');
    expect(result.increase.randomValues).toHaveLength(3);
    expect(result.increase.value).toBeCloseTo(result.ablated - result.clean, 12);
  });

  it("measures the loss on the user's texts instead of the recording's: a document per paragraph, read in windows", async () => {
    const paragraph = (n: number) => Array.from({ length: n }, (_, i) => (i % 2 ? ' sea' : ' ship')).join('');
    // The test model reads 24 tokens at a time: <|endoftext|> and 23 of a document's. Paragraphs of 100, 30 and 1
    // tokens make 5, 2 and 1 windows, and every token of them is predicted once.
    const text = `${paragraph(100)}\n\n${paragraph(30)}\n\n${paragraph(1).trim()}`;
    const ask = { layer: 'h.1', target: { kind: 'direction', direction: request.direction }, mode: 'project', contexts: 10, random: 2, seed: 1 } as const;
    const before = tf.memory().numTensors;
    const own = await session.ablate({ ...ask, texts: text }, {});
    expect(tf.memory().numTensors).toBe(before);
    expect(own.windows).toBe(8);
    expect(own.predictions).toBe(131);
    const recorded = await session.ablate(ask, {});
    expect(recorded.clean).not.toBeCloseTo(own.clean, 6);
    expect((await session.ablate({ ...ask, contexts: 2, texts: text }, {})).windows).toBe(2);
    await expect(session.ablate({ ...ask, texts: ' \n\n ' }, {})).rejects.toThrow(/texts to measure the loss on are empty/);
  });

  it('zeroes a neuron against random other neurons, and says what is wrong with a unit', async () => {
    const result = await session.ablate({ layer: 'h.1', target: { kind: 'unit', unit: 2 }, mode: 'zero', contexts: 2, random: 2, seed: 0 }, {});
    expect(result.controls).toBe('random units');
    expect(result.controlUnits).not.toContain(2);
    await expect(session.ablate({ layer: 'h.1', target: { kind: 'unit', unit: 16 }, mode: 'zero', contexts: 2, random: 2, seed: 0 }, {})).rejects.toThrow('h.1 has units 0..15; got 16.');
  });
});
