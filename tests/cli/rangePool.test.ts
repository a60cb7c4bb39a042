import { execFileSync } from 'node:child_process';
import { threadId } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import { nnDescent } from '../../src/compute/knn';
import { allocate } from '../../src/compute/parallel/runner';
import { nodeRangePool } from '../../src/cli/rangePool';
import { projectAtScale } from '../../src/compute/scaleLayout';
import type { RangePool } from '../../src/compute/parallel/runner';
import { mixture } from '../compute/mixture';
import './probeKernel';

let pool: RangePool | null = null;
afterEach(() => pool?.dispose());

describe('the Node range pool (worker_threads)', () => {
  it('computes the ranges on other threads than the calling one', async () => {
    pool = nodeRangePool({ threads: 3, entry: new URL('./probeRangeThread.ts', import.meta.url) });
    const out = allocate(Int32Array, 9, true);
    await pool.run('thread-probe', { out }, 9);
    const ids = [...out];
    // The calling thread computes the first range, each worker one of the others.
    expect(ids.slice(0, 3)).toEqual([threadId, threadId, threadId]);
    expect(new Set(ids.slice(3)).size).toBe(2);
    expect(ids.slice(3).includes(threadId)).toBe(false);
    // The same workers answer the next run: a pool, not a thread per call.
    const again = allocate(Int32Array, 9, true);
    await pool.run('thread-probe', { out: again }, 9);
    expect([...again]).toEqual(ids);
  });

  it('builds the same NN-descent graph on 2 threads as on 1', async () => {
    const { data } = mixture(3000, 16, 6, 11);
    const one = await nnDescent(data, 3000, 16, 10, { seed: 5, maxCandidates: 60 });
    pool = nodeRangePool({ threads: 2 });
    const two = await nnDescent(data, 3000, 16, 10, { seed: 5, maxCandidates: 60, runner: pool });
    expect(two.indices).toEqual(one.indices);
    expect(two.distances).toEqual(one.distances);
  });

  it('places rows into a fitted layout on 2 threads exactly as in process', async () => {
    const { data } = mixture(1200, 8, 4, 12);
    const options = { method: 'umap', metric: 'euclidean', pcaDims: 0, seed: 2, iterations: 60 } as const;
    const alone = await projectAtScale(data, 1200, 8, options, { fitSample: 500 });
    pool = nodeRangePool({ threads: 2 });
    const pooled = await projectAtScale(data, 1200, 8, options, { fitSample: 500, runner: pool });
    expect(pooled.layout).toEqual(alone.layout);
  });

  it('rejects runs once disposed', async () => {
    pool = nodeRangePool({ threads: 2 });
    pool.dispose();
    await expect(pool.run('thread-probe', { out: allocate(Int32Array, 4, true) }, 4)).rejects.toThrow(/disposed/);
  });

  it('lets a command exit whether or not it disposed its pool', () => {
    const script = (dispose: boolean) => `
      import { nodeRangePool } from './src/cli/rangePool.ts';
      import { nnDescent } from './src/compute/knn.ts';
      const pool = nodeRangePool({ threads: 2 });
      const data = new Float32Array(800 * 4).map((_, i) => Math.sin(i * 12.9898) * 43758.5453 % 1);
      const graph = await nnDescent(data, 800, 4, 5, { seed: 1, runner: pool });
      ${dispose ? 'pool.dispose();' : ''}
      console.log(graph.indices.length);`;
    for (const dispose of [true, false]) {
      const output = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script(dispose)], { encoding: 'utf8', timeout: 30_000 });
      expect(output.trim()).toBe('4000');
    }
  });
});
