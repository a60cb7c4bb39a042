import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_ATLAS_PARAMS, layoutAtlas, withPreviews } from '../../../src/compute/atlas';
import type { ProgressEvent } from '../../../src/compute/types';
import { parseAtlas, serializeAtlas } from '../../../src/export/atlasFile';
import { isAbortError } from '../../../src/lib/abort';
import { chooseBackend } from '../../../src/model/backend';
import { ModelUseError } from '../../../src/model/recordTable';
import type { TextDocument } from '../../../src/model/text/documents';
import { lengthBatches, recordedTokens, recordTextActivations, recordTextAtlas } from '../../../src/model/text/recordText';
import { TextModel } from '../../../src/model/text/textModel';
import { encode, EOT, tokenTexts } from '../../../src/model/text/tokenizer';
import { tinyGpt2Files } from './tinyGpt2';

let model: TextModel;
beforeAll(async () => {
  await chooseBackend({ node: true });
  model = await TextModel.fromFiles(tinyGpt2Files(), 'tiny');
});
afterAll(() => model.dispose());

const doc = (name: string, text: string, label: string | null = null): TextDocument => ({ name, text, label });

/** Five documents: two of one length (one batch), one longer than the context of 24 (split into windows). */
const DOCUMENTS: TextDocument[] = [
  doc('a', 'Call me Ishmael.', 'narration'),
  doc('b', 'Some years ago, never mind how long precisely, having little or no money in my purse, and nothing particular to interest me on shore, I thought I would sail about a little and see the watery part of the world.', 'narration'),
  doc('c', 'Call me Queequeg.', 'dialogue'),
  doc('d', '"Whale ho!"', 'dialogue'),
  doc('e', 'It is a way I have of driving off the spleen and regulating the circulation.'),
];

/** The layer's activations for one window, recorded straight from the model: [tokens][width]. */
function direct(ids: Int32Array, layer: string): number[][] {
  const out = model.gpt2.record([ids], layer);
  const rows = (out.arraySync() as number[][][])[0];
  out.dispose();
  return rows;
}

const rowOf = (values: Float32Array, dim: number, r: number) => Array.from(values.subarray(r * dim, (r + 1) * dim));

describe('recordTextActivations', () => {
  it("records every token but <|endoftext|> with 'all', in window then token order, equal to a direct record", async () => {
    const rec = await recordTextActivations(model, DOCUMENTS, { layer: 'h.1.mlp.act', samplesPerInput: 'all' });
    const { table, tokenIds } = rec;
    expect(tokenIds.every((ids) => ids[0] === EOT && ids.length <= 24)).toBe(true);
    expect(table.count).toBe(tokenIds.reduce((n, ids) => n + ids.length - 1, 0));
    expect(table.positionShape).toEqual([24]);
    expect(table.dim).toBe(64);
    expect(Array.from(table.position)).not.toContain(0);
    const expectedOrder = tokenIds.flatMap((ids, w) => Array.from({ length: ids.length - 1 }, (_, t) => [w, t + 1]));
    expect(Array.from(table.input, (w, r) => [w, table.position[r]])).toEqual(expectedOrder);
    expect(Array.from(table.key!)).toEqual(tokenIds.flatMap((ids) => Array.from(ids.subarray(1))));
    const vectors = tokenIds.map((ids) => direct(ids, 'h.1.mlp.act'));
    for (let r = 0; r < table.count; r++) {
      expect(rowOf(table.values, 64, r)).toEqual(vectors[table.input[r]][table.position[r]].map(Math.fround));
    }
    expect(Array.from(rec.predicted)).toEqual(tokenIds.map(() => -1));
    expect(Array.from(rec.probability)).toEqual(tokenIds.map(() => 0));
    expect(rec.layerShape).toEqual([24, 64]);
    expect(rec.errors).toEqual([]);
  });

  it('splits a document longer than the context into windows, names them, and says so', async () => {
    const rec = await recordTextActivations(model, DOCUMENTS, { layer: 'h.0', samplesPerInput: 1 });
    const tokensOfB = encode(DOCUMENTS[1].text);
    const parts = Math.ceil(tokensOfB.length / 23);
    expect(parts).toBeGreaterThan(1);
    expect(rec.names).toEqual(['a', ...Array.from({ length: parts }, (_, k) => `b [window ${k + 1}/${parts}]`), 'c', 'd', 'e']);
    expect(rec.labels).toEqual(['narration', ...Array(parts).fill('narration'), 'dialogue', 'dialogue', null]);
    expect(rec.tokenIds.slice(1, 1 + parts).flatMap((ids) => Array.from(ids.subarray(1)))).toEqual(Array.from(tokensOfB));
    expect(rec.notices).toContain(
      `1 document was longer than the model's context of 24 tokens and was split into ${parts} windows, each starting with <|endoftext|>.`,
    );
  });

  it('pools each window as the mean over its tokens after <|endoftext|>, with no keys', async () => {
    const rec = await recordTextActivations(model, DOCUMENTS, { layer: 'h.0.attn', samplesPerInput: 'pooled' });
    expect(rec.table.count).toBe(rec.tokenIds.length);
    expect(Array.from(rec.table.position)).toEqual(rec.tokenIds.map(() => -1));
    expect(Array.from(rec.table.input)).toEqual(rec.tokenIds.map((_, w) => w));
    expect(rec.table.key).toBeUndefined();
    rec.tokenIds.forEach((ids, w) => {
      const rows = direct(ids, 'h.0.attn').slice(1);
      const mean = rows[0].map((_, k) => rows.reduce((s, v) => s + v[k], 0) / rows.length);
      rowOf(rec.table.values, 16, w).forEach((v, k) => expect(v).toBeCloseTo(mean[k], 5));
    });
  });

  it('samples k tokens per window among 1..L-1, the same for the same seed, others for another seed', async () => {
    const options = { layer: 'h.1', samplesPerInput: 3 } as const;
    const [first, again, other] = [
      await recordTextActivations(model, DOCUMENTS, { ...options, seed: 4 }),
      await recordTextActivations(model, DOCUMENTS, { ...options, seed: 4 }),
      await recordTextActivations(model, DOCUMENTS, { ...options, seed: 5 }),
    ];
    const lengths = first.tokenIds.map((ids) => ids.length);
    expect(first.table.count).toBe(lengths.reduce((n, l) => n + Math.min(3, l - 1), 0));
    expect(Array.from(again.table.position)).toEqual(Array.from(first.table.position));
    expect(Array.from(again.table.values)).toEqual(Array.from(first.table.values));
    expect(Array.from(other.table.position)).not.toEqual(Array.from(first.table.position));
    for (let r = 0; r < first.table.count; r++) {
      const [w, t] = [first.table.input[r], first.table.position[r]];
      expect(t).toBeGreaterThanOrEqual(1);
      expect(t).toBeLessThan(lengths[w]);
      expect(first.table.key![r]).toBe(first.tokenIds[w][t]);
    }
    expect(recordedTokens(5, 10, 1)).toEqual([1, 2, 3, 4]);
    expect(recordedTokens(40, 6, 9)).toEqual(recordedTokens(40, 6, 9));
    expect(new Set(recordedTokens(40, 6, 9)).size).toBe(6);
  });

  it('gives the same rows whatever the batch size; batches hold windows of one length', async () => {
    const one = await recordTextActivations(model, DOCUMENTS, { layer: 'h.1.mlp.act', samplesPerInput: 'all', batchSize: 1 });
    const many = await recordTextActivations(model, DOCUMENTS, { layer: 'h.1.mlp.act', samplesPerInput: 'all' });
    expect(Array.from(one.table.input)).toEqual(Array.from(many.table.input));
    expect(Array.from(one.table.position)).toEqual(Array.from(many.table.position));
    one.table.values.forEach((v, k) => expect(v).toBeCloseTo(many.table.values[k], 5));
    const ids = [[1, 2, 3], [1, 2], [1, 2, 3], [4, 5], [6, 7, 8]].map((w) => Int32Array.from(w));
    expect(lengthBatches(ids)).toEqual([[1, 3], [0, 2, 4]]);
    expect(lengthBatches(ids, 2)).toEqual([[1, 3], [0, 2], [4]]);
  });

  it('samples rows to the memory budget and says so with both counts', async () => {
    const all = await recordTextActivations(model, DOCUMENTS, { layer: 'h.0', samplesPerInput: 'all' });
    const rec = await recordTextActivations(model, DOCUMENTS, { layer: 'h.0', samplesPerInput: 'all', stream: { maxValues: 16 * 20 } });
    expect(rec.table.count).toBe(20);
    expect(rec.table.totalBeforeSampling).toBe(all.table.count);
    expect(rec.notices).toContain(
      `Recorded ${all.table.count} activations; the layout shows a seeded sample of 20, and every unit's statistics and top inputs cover all of them.`,
    );
    // The units rank every row, not the sample: the same as without a budget.
    expect(rec.units).toEqual(all.units);
    expect(Array.from(rec.table.position)).not.toContain(0);
    const input = Array.from(rec.table.input);
    expect(input).toEqual([...input].sort((a, b) => a - b));
    for (let r = 0; r < rec.table.count; r++) {
      const match = all.table.input.findIndex((w, q) => w === rec.table.input[r] && all.table.position[q] === rec.table.position[r]);
      expect(rowOf(rec.table.values, 16, r)).toEqual(rowOf(all.table.values, 16, match));
      expect(rec.table.key![r]).toBe(all.table.key![match]);
    }
  });

  it('lists a document with no tokens while the rest go through; refuses no documents and an unknown layer', async () => {
    const rec = await recordTextActivations(model, [doc('empty', ''), ...DOCUMENTS.slice(0, 1)], { layer: 'h.0', samplesPerInput: 'all' });
    expect(rec.errors).toEqual([{ name: 'empty', reason: 'no tokens: the document is empty' }]);
    expect(rec.names).toEqual(['a']);
    await expect(recordTextActivations(model, [], { layer: 'h.0', samplesPerInput: 'all' })).rejects.toThrow(ModelUseError);
    await expect(recordTextActivations(model, [doc('empty', '')], { layer: 'h.0', samplesPerInput: 'all' })).rejects.toThrow(/None of the 1 documents gave any tokens/);
    await expect(recordTextActivations(model, DOCUMENTS, { layer: 'h.7', samplesPerInput: 'all' })).rejects.toThrow(/Layer "h.7" cannot be recorded/);
    await expect(recordTextActivations(model, DOCUMENTS, { layer: 'h.0', samplesPerInput: 0 })).rejects.toThrow(/positive whole number/);
  });

  it("reports 'decode' and 'record' progress, and leaks no tensors", async () => {
    const events: ProgressEvent[] = [];
    const before = tf.memory().numTensors;
    for (const samplesPerInput of ['all', 'pooled', 2] as const) {
      await recordTextActivations(model, DOCUMENTS, { layer: 'h.1.mlp.act', samplesPerInput, batchSize: 2, onProgress: (e) => events.push(e) });
    }
    expect(tf.memory().numTensors).toBe(before);
    const last = (stage: string) => events.filter((e) => e.stage === stage).at(-1);
    expect(last('decode')).toEqual({ stage: 'decode', done: 5, total: 5 });
    expect(last('record')?.done).toBe(last('record')?.total);
    expect(events.filter((e) => e.stage === 'record').length).toBeGreaterThan(3);
  });

  it('stops with an AbortError when cancelled between batches, leaking no tensors', async () => {
    const before = tf.memory().numTensors;
    const controller = new AbortController();
    const run = recordTextActivations(model, DOCUMENTS, {
      layer: 'h.1',
      samplesPerInput: 'all',
      batchSize: 1,
      signal: controller.signal,
      onProgress: (e) => e.stage === 'record' && e.done === 2 && controller.abort(),
    });
    const error = await run.then(() => null, (e: unknown) => e);
    expect(isAbortError(error)).toBe(true);
    expect(tf.memory().numTensors).toBe(before);
    const early = new AbortController();
    early.abort();
    expect(isAbortError(await recordTextActivations(model, DOCUMENTS, { layer: 'h.1', samplesPerInput: 'all', signal: early.signal }).catch((e) => e))).toBe(true);
  });
});

describe('recordTextAtlas', () => {
  it('records the request and keeps token ids and texts per window; the atlas file it makes is valid', async () => {
    const request = { layer: 'h.1.mlp.act', params: { ...DEFAULT_ATLAS_PARAMS, samplesPerInput: 'all' as const, gridSizes: [4, 8], pcaDims: 0, nNeighbors: 5 } };
    const recorded = await recordTextAtlas(model, DOCUMENTS, request);
    expect(recorded.modality).toBe('text');
    expect(recorded.model).toEqual(model.info);
    expect(recorded.previews.tokenIds.every((ids) => ids[0] === EOT)).toBe(true);
    expect(recorded.previews.tokenIds[0]).toEqual([EOT, ...encode('Call me Ishmael.')]);
    expect(recorded.previews.tokens[0]).toEqual(tokenTexts(recorded.previews.tokenIds[0]));
    expect(recorded.previews.tokens[0].slice(0, 3)).toEqual(['<|endoftext|>', 'Call', ' me']);
    const { errors, ...columns } = recorded;
    expect(errors).toEqual([]);
    const atlas = parseAtlas(serializeAtlas(withPreviews(await layoutAtlas(columns, request.params), columns)));
    expect(atlas.modality).toBe('text');
    expect(atlas.points.position).not.toContain(0);
    expect(atlas.labelNames).toEqual(['narration', 'dialogue']);
    const keys = atlas.levels.flatMap((l) => l.cells.flatMap((c) => c.keys ?? []));
    expect(keys.length).toBeGreaterThan(0);
    expect(keys.every(([id]) => id >= 0 && id !== EOT)).toBe(true);
  });
});
