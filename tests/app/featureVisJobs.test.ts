import { beforeAll, describe, expect, it } from 'vitest';
import type { Atlas } from '../../src/compute/atlas';
import type { FeatureVisSupport } from '../../src/workers/modelService';
import { FeatureVisJobs } from '../../src/app/featureVisJobs';
import type { AtlasPipeline } from '../../src/app/pipeline';
import { IconQueue } from '../../src/featureVis/queue';
import type { IconQuality } from '../../src/featureVis/recipe';

/** Just enough of a canvas for iconCanvas in Node. */
beforeAll(() => {
  const g = globalThis as Record<string, unknown>;
  g.ImageData ??= class {
    constructor(readonly data: Uint8ClampedArray, readonly width: number, readonly height: number) {}
  };
  g.document ??= { createElement: () => ({ getContext: () => ({ putImageData: () => undefined }) }) };
});

/** A 2 x 2 level and a 4 x 4 level, every cell with its own mean direction. */
const atlas = {
  layer: { name: 'conv' },
  levels: [2, 4].map((size) => ({
    size,
    cells: Array.from({ length: size * size }, (_, k) => ({ i: k % size, j: Math.floor(k / size), mean: Float32Array.from([size, k]) })),
  })),
} as unknown as Atlas;

/** A pipeline whose probe answers when `answer` is called; visualise paints 1 x 1 icons. */
function fakePipeline() {
  let answer!: (support: FeatureVisSupport) => void;
  const probe = new Promise<FeatureVisSupport>((resolve) => (answer = resolve));
  const visualised: number[] = [];
  const qualities: (string | undefined)[] = [];
  const pipeline = {
    featureVisSupport: () => probe,
    visualise: async ({ directions, quality }: { directions: Float32Array; quality?: string }) => {
      const k = directions.length / 2;
      visualised.push(k);
      qualities.push(quality);
      return { images: Array.from({ length: k }, () => new Uint8ClampedArray(4)), width: 1, height: 1, scores: new Float32Array(k), backend: 'cpu' };
    },
  } as unknown as AtlasPipeline;
  return { pipeline, visualised, qualities, answer: (support: FeatureVisSupport) => answer(support) };
}

function jobsOf(pipeline: AtlasPipeline, quality: IconQuality = 'standard', model = 'model-a') {
  const icons: string[] = [];
  const done: number[] = [];
  const totals: number[] = [];
  let finished: string | null = null;
  const jobs = new FeatureVisJobs(pipeline, atlas, model, 'settings', quality, {
    onIcon: (key) => icons.push(key),
    onProgress: (levels) => {
      done.push(levels.reduce((n, l) => n + l.done, 0));
      totals.push(levels.reduce((n, l) => n + l.total, 0));
    },
    onFinished: (status) => (finished = status),
  });
  return { jobs, icons, done, totals, finished: () => finished };
}

/** Turns of the event loop until `ready`, failing after a second (everything here is in memory). */
const until = async (ready: () => boolean) => {
  const deadline = Date.now() + 1000;
  while (!ready()) {
    if (Date.now() > deadline) throw new Error('not within a second');
    await new Promise((r) => setImmediate(r));
  }
};

describe('FeatureVisJobs', () => {
  it('shows cached icons before the model worker has answered where gradients run', async () => {
    // First atlas: computes and caches every icon.
    const first = fakePipeline();
    const a = jobsOf(first.pipeline);
    const running = a.jobs.run();
    first.answer({ backend: 'cpu', message: 'on cpu' });
    await running;
    expect(a.finished()).toBe('done');
    expect(a.icons).toHaveLength(20);

    // The same atlas again (a reload): every icon comes from the cache while the probe has not answered.
    const second = fakePipeline();
    const b = jobsOf(second.pipeline);
    const again = b.jobs.run();
    await until(() => b.icons.length === 20);
    expect(b.done.at(-1)).toBe(20);
    expect(b.finished()).toBeNull();
    second.answer({ backend: null, message: 'no gradients here' });
    await again;
    // Nothing was left to compute, and a model that cannot compute icons still shows the cached ones.
    expect(second.visualised).toEqual([]);
    expect(b.finished()).toBe('unavailable');
  });

  it('says how many icons it will make at once, before the model worker has answered where gradients run', async () => {
    const fake = fakePipeline();
    const j = jobsOf(fake.pipeline, 'standard', 'model-never-cached');
    const running = j.jobs.run();
    // The toolbar reads "0/20" while the probe and the first batch run (it read "0/0" for 20 s on Tiny VGG).
    await until(() => j.totals.length > 0);
    expect([j.done[0], j.totals[0]]).toEqual([0, 20]);
    expect(fake.visualised).toEqual([]);
    fake.answer({ backend: 'cpu', message: 'on cpu' });
    await running;
    expect(j.done.at(-1)).toBe(20);
  });

  it('asks for the recipe of its quality, and keeps the icons of each quality under their own keys', async () => {
    const run = async (quality: IconQuality) => {
      const fake = fakePipeline();
      const jobs = jobsOf(fake.pipeline, quality);
      const running = jobs.jobs.run();
      fake.answer({ backend: 'cpu', message: 'on cpu' });
      await running;
      return { ...fake, icons: jobs.icons };
    };
    // Another quality of the same atlas finds none of the other's icons: all 20 are computed, at that quality.
    const fast = await run('fast');
    expect(fast.visualised.reduce((a, b) => a + b, 0)).toBe(20);
    expect(new Set(fast.qualities)).toEqual(new Set(['fast']));
    // The same quality again computes nothing: its icons were cached under its own keys.
    const again = await run('fast');
    expect(again.visualised).toEqual([]);
    expect(again.icons).toHaveLength(20);
    const best = await run('best');
    expect(best.visualised.reduce((a, b) => a + b, 0)).toBe(20);
  });
});

describe('IconQueue.pending', () => {
  it('lists the pending jobs best first without taking them', () => {
    const q = new IconQueue([{ size: 2, cells: [{ i: 0, j: 0 }, { i: 1, j: 0 }, { i: 0, j: 1 }, { i: 1, j: 1 }] }]);
    q.setViewport({ gridSize: 2, cells: [[1, 1]] });
    expect(q.pending().map((j) => j.key)[0]).toBe('2:1:1');
    q.complete('2:1:1');
    const [best, ...rest] = q.pending();
    expect(rest).toHaveLength(2);
    expect(q.next(1)).toEqual([best]);
    expect(q.pending()).toEqual(rest);
  });
});
