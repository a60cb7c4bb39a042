import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { ImageModel } from '../../src/model/image/imageModel';
import { chooseBackend } from '../../src/model/backend';
import { hashFloats, iconCacheKey, MemoryIconCache, openIconCache, settingsKey, type CachedIcon } from '../../src/featureVis/cache';
import { modelFingerprint } from '../../src/featureVis/fingerprint';
import { IconQueue } from '../../src/featureVis/queue';
import { runIconQueue } from '../../src/featureVis/runner';
import { isAbortError } from '../../src/lib/abort';
import { smallCnnArtifacts } from '../model/helpers';
import { grayCnnArtifacts } from './helpers';

beforeAll(async () => {
  await chooseBackend({ node: true });
});

const icon = (score: number): CachedIcon => ({ width: 1, height: 1, rgba: Uint8ClampedArray.from([score, 0, 0, 255]), score });

describe('icon cache keys', () => {
  it('hash directions bit for bit', () => {
    const v = Float32Array.from([0.1, -2, 3.5]);
    expect(hashFloats(v)).toMatch(/^[0-9a-f]{16}$/);
    expect(hashFloats(Float32Array.from(v))).toBe(hashFloats(v));
    expect(hashFloats(Float32Array.from([0.1, -2, 3.5000002]))).not.toBe(hashFloats(v));
    expect(hashFloats(Float32Array.from([0, 0]))).not.toBe(hashFloats(Float32Array.from([0, 0, 0])));
    expect(hashFloats(Float32Array.from([1, 2]))).not.toBe(hashFloats(Float32Array.from([2, 1])));
  });

  it('tell models, layers, directions and settings apart, whatever the names hold', () => {
    const d = Float32Array.from([1, 2, 3]);
    const base = iconCacheKey({ model: 'm', layer: 'conv3', direction: d });
    expect(iconCacheKey({ model: 'm', layer: 'conv3', direction: Float32Array.from(d) })).toBe(base);
    const others = [
      iconCacheKey({ model: 'm2', layer: 'conv3', direction: d }),
      iconCacheKey({ model: 'm', layer: 'conv2', direction: d }),
      iconCacheKey({ model: 'm', layer: 'conv3', direction: Float32Array.from([1, 2, 4]) }),
      iconCacheKey({ model: 'm', layer: 'conv3', direction: d, settings: settingsKey({ steps: 128 }) }),
      iconCacheKey({ model: 'm|conv3', layer: '', direction: d }),
    ];
    expect(new Set([base, ...others]).size).toBe(6);
    expect(settingsKey({ steps: 256, seed: 0 })).toBe(settingsKey({ seed: 0, steps: 256, onProgress: () => 0 }));
    expect(settingsKey({ whitening: Float32Array.from([1]) })).not.toBe(settingsKey({ whitening: Float32Array.from([2]) }));
  });

  it('fingerprint models by their weights, without leaking tensors', async () => {
    const a = await ImageModel.fromArtifacts(await smallCnnArtifacts(), 'small');
    const b = await ImageModel.fromArtifacts(await smallCnnArtifacts(), 'small');
    const c = await ImageModel.fromArtifacts(await grayCnnArtifacts(), 'small');
    const before = tf.memory().numTensors;
    const [fa, fb, fc] = await Promise.all([a, b, c].map(modelFingerprint));
    expect(tf.memory().numTensors).toBe(before);
    expect(fa).toBe(fb);
    expect(fc).not.toBe(fa);
    [a, b, c].forEach((m) => m.dispose());
  });
});

describe('openIconCache', () => {
  it('falls back to memory where there is no IndexedDB (Node), and keeps icons by key', async () => {
    expect((globalThis as { indexedDB?: unknown }).indexedDB).toBeUndefined();
    const cache = await openIconCache();
    expect(cache.kind).toBe('memory');
    await cache.put('a', icon(1));
    expect(await cache.get('a')).toEqual(icon(1));
    expect(await cache.get('b')).toBeUndefined();
    await cache.clear();
    expect(await cache.get('a')).toBeUndefined();
  });

  it('falls back to memory when IndexedDB refuses to open', async () => {
    const broken = { open: () => { throw new Error('SecurityError'); } } as unknown as IDBFactory;
    expect((await openIconCache({ indexedDB: broken })).kind).toBe('memory');
  });

  it('the memory cache drops the least recently used icon past its byte budget', async () => {
    const cache = new MemoryIconCache(8); // two 1 x 1 icons
    await cache.put('a', icon(1));
    await cache.put('b', icon(2));
    await cache.get('a');
    await cache.put('c', icon(3));
    expect(await cache.get('b')).toBeUndefined();
    expect(await cache.get('a')).toBeDefined();
    expect(cache.size).toBe(2);
    expect(cache.storedBytes).toBe(8);
  });
});

describe('runIconQueue', () => {
  const levels = [{ size: 2, cells: [{ i: 0, j: 0 }, { i: 1, j: 0 }, { i: 0, j: 1 }, { i: 1, j: 1 }] }];
  const direction = (job: { i: number; j: number }) => Float32Array.from([job.i, job.j]);
  const key = (_: unknown, d: Float32Array) => iconCacheKey({ model: 'm', layer: 'l', direction: d });

  it('serves cached icons at once, computes the rest in batches and caches them', async () => {
    const cache = new MemoryIconCache();
    await cache.put(key(null, Float32Array.from([1, 0])), icon(9));
    const batches: number[] = [];
    const served: [string, boolean][] = [];
    await runIconQueue({
      queue: new IconQueue(levels),
      cache,
      direction,
      key,
      batchSize: 2,
      visualise: async (dirs) => {
        batches.push(dirs.length / 2);
        return { images: Array.from({ length: dirs.length / 2 }, () => new Uint8ClampedArray(4)), width: 1, height: 1, scores: new Float32Array(dirs.length / 2).fill(1) };
      },
      onIcon: (job, _, fromCache) => served.push([job.key, fromCache]),
    });
    expect(batches).toEqual([2, 1]);
    expect(served.filter(([, c]) => c)).toEqual([['2:1:0', true]]);
    expect(served).toHaveLength(4);
    expect(cache.size).toBe(4);
  });

  it('starts with a small batch, so the first icons come soon, and doubles it up to the batch size', async () => {
    const many = [{ size: 8, cells: Array.from({ length: 40 }, (_, n) => ({ i: n % 8, j: Math.floor(n / 8) })) }];
    const batches: number[] = [];
    await runIconQueue({
      queue: new IconQueue(many),
      cache: new MemoryIconCache(),
      direction,
      key,
      batchSize: 16,
      visualise: async (dirs) => {
        batches.push(dirs.length / 2);
        return { images: Array.from({ length: dirs.length / 2 }, () => new Uint8ClampedArray(4)), width: 1, height: 1, scores: new Float32Array(dirs.length / 2) };
      },
    });
    expect(batches).toEqual([4, 8, 16, 12]);
  });

  it('puts a cancelled batch back in line and rejects with an AbortError', async () => {
    const queue = new IconQueue(levels);
    const controller = new AbortController();
    const run = runIconQueue({
      queue,
      cache: new MemoryIconCache(),
      direction,
      key,
      signal: controller.signal,
      visualise: async () => {
        controller.abort();
        const e = new Error('Feature visualisation cancelled');
        e.name = 'AbortError';
        throw e;
      },
    });
    await expect(run).rejects.toSatisfy(isAbortError);
    expect(queue.progress()[0]).toMatchObject({ done: 0, failed: 0 });
    expect(queue.next(4)).toHaveLength(4);
  });

  it('marks a failed batch failed, reports it and goes on', async () => {
    const queue = new IconQueue(levels);
    const errors: string[] = [];
    let calls = 0;
    await runIconQueue({
      queue,
      cache: new MemoryIconCache(),
      direction,
      key,
      batchSize: 2,
      visualise: async (dirs) => {
        if (calls++ === 0) throw new Error('out of memory');
        return { images: [new Uint8ClampedArray(4), new Uint8ClampedArray(4)], width: 1, height: 1, scores: new Float32Array(dirs.length / 2) };
      },
      onError: (jobs, e) => errors.push(`${jobs.length}: ${(e as Error).message}`),
    });
    expect(errors).toEqual(['2: out of memory']);
    expect(queue.progress()[0]).toMatchObject({ done: 2, failed: 2, total: 4 });
  });
});
