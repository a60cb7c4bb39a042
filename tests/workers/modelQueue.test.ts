import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_ATLAS_PARAMS } from '../../src/compute/atlas';
import { nodeModelServiceDeps } from '../../src/cli/nodeServices';
import { randomDirections } from '../../src/compute/directions/vectors';
import { createModelService } from '../../src/workers/modelService';
import type { CallContext } from '../../src/workers/rpc';

/** A call's context: its own cancel, and its progress handed to `onProgress`. */
const context = (onProgress: (value: unknown) => void = () => {}, signal = new AbortController().signal): CallContext => ({ signal, progress: onProgress });

/** Calls into one model service share its model, recordings and TF.js's global backend: each must run alone. */
describe('the model worker runs one call at a time', () => {
  const service = createModelService(nodeModelServiceDeps());
  const imageParams = { ...DEFAULT_ATLAS_PARAMS, samplesPerInput: 4 as const };
  let imageRecording: Awaited<ReturnType<typeof service.record>>;
  beforeAll(async () => {
    await service.init(context(), { backend: 'wasm', threads: null });
    await service.loadModel(context(), { kind: 'default' });
    imageRecording = await service.record(context(), { inputs: { kind: 'sample' }, layer: 'conv3', params: imageParams });
  }, 120_000);

  it('two gradient calls at once run one after the other, each with the answer it gets alone', async () => {
    const ask = (classIndex: number) => ({
      recording: imageRecording.recording,
      layer: 'conv3',
      target: { kind: 'class' as const, classIndex },
      input: Array.from({ length: 80 }, (_, i) => i),
      position: Array.from({ length: 80 }, () => -1),
    });
    const alone = [await service.gradients(context(), ask(1)), await service.gradients(context(), ask(2))];
    const events: string[] = [];
    const before = tf.memory().numTensors;
    const [a, b] = await Promise.all([
      service.gradients(context(() => events.push('a progress')), ask(1)).then((r) => (events.push('a done'), r)),
      service.gradients(context((p) => events.push((p as { stage: string }).stage === 'waiting' ? 'b waits' : 'b progress')), ask(2)).then((r) => (events.push('b done'), r)),
    ]);
    expect(tf.memory().numTensors).toBe(before);
    // b waits for a's turn to end: none of its work starts before a has answered.
    expect(events[0]).toBe('b waits');
    expect(events.indexOf('b progress')).toBeGreaterThan(events.indexOf('a done'));
    expect(Array.from(a.gradients)).toEqual(Array.from(alone[0].gradients));
    expect(Array.from(b.gradients)).toEqual(Array.from(alone[1].gradients));
    expect(tf.getBackend()).toBe('wasm');
  }, 120_000);

  it('a model load during a feature visualisation stops it with a reason, loads, and leaves the main backend in place', async () => {
    await service.featureVisSupport(context());
    let load: Promise<unknown> | null = null;
    const visualising = service.visualise(
      context(() => {
        load ??= service.loadModel(context(), { kind: 'default-text' });
      }),
      { directions: randomDirections(32, 2, 7), steps: 64, seed: 1 },
    );
    await expect(visualising).rejects.toThrow(/another model is being loaded/);
    expect(await load).toMatchObject({ modality: 'text' });
    expect(tf.getBackend()).toBe('wasm');
    // The new model answers; the old recording is refused rather than mixed up with it.
    await expect(service.gradients(context(), { recording: imageRecording.recording, layer: 'h.1.mlp.act', target: { kind: 'token', text: ' sea' }, input: [0], position: [0] })).rejects.toThrow(/Build an atlas first/);
  }, 120_000);

  it('a model load during polysemanticity stops it with a reason and the new model is whole', async () => {
    await service.loadModel(context(), { kind: 'default-text' });
    const text = await service.record(context(), {
      inputs: { kind: 'sample' },
      layer: 'h.1.mlp.act',
      params: { ...DEFAULT_ATLAS_PARAMS, samplesPerInput: 'all' },
    });
    let load: Promise<unknown> | null = null;
    const measuring = service.polysemanticity(
      context(() => {
        load ??= service.loadModel(context(), { kind: 'default' });
      }),
      text.recording,
      'h.1.mlp.act',
      0.5,
      2,
    );
    await expect(measuring).rejects.toThrow(/another model is being loaded/);
    expect(await load).toMatchObject({ modality: 'image' });
    const again = await service.record(context(), { inputs: { kind: 'sample' }, layer: 'conv3', params: imageParams });
    expect(again.table.count).toBe(imageRecording.table.count);
    expect(Array.from(again.table.values.subarray(0, 64))).toEqual(Array.from(imageRecording.table.values.subarray(0, 64)));
    imageRecording = again;
  }, 180_000);

  it('a user\'s call stops background icons for its turn; the icons then come as they would alone', async () => {
    await service.featureVisSupport(context());
    const request = { directions: randomDirections(32, 2, 3), steps: 24, seed: 5 };
    const alone = await service.visualise(context(), request);
    const order: string[] = [];
    let asked: Promise<unknown> | null = null;
    const icons = service.visualise(
      context(() => {
        asked ??= service
          .tokenActivations(context(), 'conv3', new Float32Array(32), [])
          .catch(() => undefined)
          .then(() => order.push('user call'));
      }),
      request,
    ).then((r) => (order.push('icons'), r));
    const result = await icons;
    await asked;
    expect(order).toEqual(['user call', 'icons']);
    expect(result.images.map((im) => Array.from(im))).toEqual(alone.images.map((im) => Array.from(im)));
  }, 180_000);

  it('hands out a recording\'s previews once, then drops its copy', async () => {
    const count = imageRecording.names.length;
    const first = await service.previews(context(), imageRecording.recording, 0, 10);
    expect('thumbnails' in first && first.thumbnails).toHaveLength(10);
    await service.previews(context(), imageRecording.recording, 10, count);
    await expect(service.previews(context(), imageRecording.recording, 0, 10)).rejects.toThrow(/already handed out/);
  });
});
