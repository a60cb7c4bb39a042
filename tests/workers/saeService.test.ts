import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { nodeModelServiceDeps } from '../../src/cli/nodeServices';
import { hashFloats } from '../../src/featureVis/cache';
import { saeDigest } from '../../src/model/sae/dictionary';
import { encodeSae } from '../../src/model/sae/encode';
import { readSaeLens } from '../../src/model/sae/saelens';
import { denseLatents } from '../../src/model/sae/sae';
import { createModelService } from '../../src/workers/modelService';
import type { DictionaryTarget, SaeTaskProgress } from '../../src/workers/protocol';
import type { CallContext } from '../../src/workers/rpc';
import { plantedRows } from '../model/sae/planted';

const context = (onProgress: (value: unknown) => void = () => {}, signal = new AbortController().signal): CallContext => ({ signal, progress: onProgress });

/** The model worker's SAE entry points, called as the page calls them (no model needs to be loaded: they read the rows given). */
describe("the model worker's SAE tasks", () => {
  const service = createModelService(nodeModelServiceDeps());
  const planted = plantedRows({ directions: 48, width: 16, active: 3, rows: 1200, seed: 3 });
  const target: DictionaryTarget = { layer: 'conv3', width: 16, modality: 'image', modelName: 'planted' };
  const request = { architecture: 'topk' as const, latents: 64, k: 4, epochs: 3, seed: 1 };
  const LAYOUT = 7;
  const rows = () => planted.rows.slice();
  beforeAll(async () => {
    await service.init(context(), { backend: 'wasm', threads: null });
  }, 60_000);

  it('trains with a live curve, measures every row, frees every tensor, and keeps latent top rows that match a full encoding', async () => {
    const events: SaeTaskProgress[] = [];
    const before = tf.memory().numTensors;
    const summary = await service.trainSae(context((p) => events.push(p as SaeTaskProgress)), LAYOUT, rows(), target, request);
    expect(tf.memory().numTensors).toBe(before);
    const spans = events.filter((e) => e.stage === 'train');
    expect(spans.length).toBeGreaterThan(3);
    const seen = spans.map((e) => (e.stage === 'train' ? e.rowsSeen : 0));
    expect(seen).toEqual([...seen].sort((a, b) => a - b));
    expect(seen[seen.length - 1]).toBe(1200 * 3);
    expect(events.some((e) => e.stage === 'measure')).toBe(true);
    expect(summary.origin).toBe('trained');
    expect(summary.config).toMatchObject({ dIn: 16, dSae: 64, k: 4, layer: 'conv3', modelName: 'planted' });
    expect(summary.epochs).toHaveLength(3);
    expect(summary.measures.rows).toBe(1200);
    expect(summary.measures.fve).toBeGreaterThan(0.5);
    expect(summary.measures.l0).toBeLessThanOrEqual(4);

    // Top rows against a brute-force ranking of the saved SAE's dense latents.
    const files = await service.saveSae(context(), LAYOUT);
    const sae = readSaeLens(files, { modality: 'image' });
    const dense = denseLatents(await encodeSae(sae, planted.rows));
    const latent = Array.from({ length: 64 }, (_, i) => i).sort((a, b) => summary.measures.frequency[b] - summary.measures.frequency[a])[0];
    const top = await service.saeLatentTop(context(), LAYOUT, latent);
    const column = Array.from({ length: 1200 }, (_, r) => dense[r * 64 + latent]);
    const ranked = column.map((v, r) => [v, r]).filter(([v]) => v > 0).sort((a, b) => b[0] - a[0] || a[1] - b[1]).slice(0, top.rows.length);
    expect(Array.from(top.rows)).toEqual(ranked.map(([, r]) => r));
    expect(top.values[0]).toBeCloseTo(summary.measures.maxActivation[latent], 5);
    expect(Array.from(top.decoder)).toEqual(Array.from(sae.weights.W_dec.subarray(latent * 16, latent * 16 + 16)));
  }, 120_000);

  it("trains on without the live loss recovered when the model holds no recording of that atlas (a GPT-2 layer's check)", async () => {
    const events: SaeTaskProgress[] = [];
    const summary = await service.trainSae(context((p) => events.push(p as SaeTaskProgress)), LAYOUT, rows(), target, { ...request, epochs: 1 }, { of: 12, contexts: 8 });
    expect(summary.epochs).toHaveLength(1);
    expect(events.some((e) => e.stage === 'train')).toBe(true);
    expect(events.some((e) => e.stage === 'epoch-loss')).toBe(false);
  });

  it('a cancelled training rejects, frees its tensors and leaves the SAE held; saved files reopen equal', async () => {
    const held = await service.trainSae(context(), LAYOUT, rows(), target, request);
    const abort = new AbortController();
    const before = tf.memory().numTensors;
    let spans = 0;
    const cancelled = service.trainSae(
      context((p) => {
        if ((p as SaeTaskProgress).stage === 'train' && ++spans === 2) abort.abort();
      }, abort.signal),
      LAYOUT,
      rows(),
      target,
      { ...request, epochs: 50 },
    );
    await expect(cancelled).rejects.toThrow(/cancel|abort/i);
    expect(tf.memory().numTensors).toBe(before);
    const files = await service.saveSae(context(), LAYOUT);
    // The files hold the SAE trained before the cancelled run, bit for bit.
    expect(saeDigest(readSaeLens(files, { modality: 'image' }), hashFloats)).toBe(held.digest);

    const reopened = await service.openSae(context(), LAYOUT, rows(), target, files);
    expect(tf.memory().numTensors).toBe(before);
    expect(reopened.origin).toBe('opened');
    expect(reopened.digest).toBe(held.digest);
    expect(reopened.measures.mse).toBe(held.measures.mse);
    expect(Array.from(reopened.measures.frequency)).toEqual(Array.from(held.measures.frequency));
  }, 120_000);

  it('lends its turn between training steps: a request made meanwhile answers before the training ends', async () => {
    const order: string[] = [];
    let asked: Promise<unknown> | null = null;
    const training = service
      .trainSae(
        context((p) => {
          if ((p as SaeTaskProgress).stage === 'train') asked ??= service.init(context(), { backend: 'wasm', threads: null }).then(() => order.push('request answered'));
        }),
        LAYOUT,
        rows(),
        target,
        { ...request, epochs: 200 },
      )
      .then(() => order.push('training done'));
    await training;
    await asked;
    expect(order).toEqual(['request answered', 'training done']);
  }, 120_000);

  it('refuses an SAE for another width or layer, or with non-finite weights, with the reason; the SAE held stays', async () => {
    const held = await service.trainSae(context(), LAYOUT, rows(), target, request);
    const files = await service.saveSae(context(), LAYOUT);
    const before = tf.memory().numTensors;
    const wide = { ...target, width: 32, layer: 'conv3' };
    await expect(service.openSae(context(), LAYOUT, new Float32Array(32 * 10), wide, files)).rejects.toThrow(/reads 16-wide activations \(d_in\), but layer conv3 is 32 wide/);
    await expect(service.openSae(context(), LAYOUT, rows(), { ...target, layer: 'conv2' }, files)).rejects.toThrow(/reads conv3, not conv2/);
    const bad = { cfg: files.cfg, weights: files.weights.slice() };
    // The first value of W_enc, after the safetensors header (8-byte length, then the JSON header).
    const headerLength = Number(new DataView(bad.weights.buffer).getBigUint64(0, true));
    const { W_enc } = JSON.parse(new TextDecoder().decode(bad.weights.subarray(8, 8 + headerLength))) as { W_enc: { data_offsets: [number, number] } };
    new DataView(bad.weights.buffer).setFloat32(8 + headerLength + W_enc.data_offsets[0], Number.NaN, true);
    await expect(service.openSae(context(), LAYOUT, rows(), target, bad)).rejects.toThrow(/W_enc holds 1 non-finite value/);
    expect(tf.memory().numTensors).toBe(before);
    const again = readSaeLens(await service.saveSae(context(), LAYOUT), { modality: 'image' });
    expect(saeDigest(again, hashFloats)).toBe(held.digest);
    // An SAE belongs to the atlas it was made for: another layout is told to train or open one again.
    await expect(service.saeLatentTop(context(), LAYOUT + 1, 0)).rejects.toThrow(/no longer on screen/);
  }, 120_000);
});
