import { describe, expect, it } from 'vitest';
import { nnDescent } from '../../../src/compute/knn';
import { kernelFor, registerKernel } from '../../../src/compute/parallel/kernels';
import { allocate, inProcessRunner, shareTree, splitRange, type RangeRunner } from '../../../src/compute/parallel/runner';
import { createRangePool, serveRanges } from '../../../src/workers/rangePool';
import type { WorkerEndpoint } from '../../../src/workers/rpc';
import { mixture } from '../mixture';

interface SquaresInput {
  values: Float64Array;
  out: Float64Array;
}

declare module '../../../src/compute/parallel/kernels' {
  interface KernelInputs {
    'test-squares': SquaresInput;
    'test-throws': { message: string };
  }
}

registerKernel('test-squares', ({ values, out }, start, end) => {
  for (let i = start; i < end; i++) out[i] = values[i] * values[i] + i;
});
registerKernel('test-throws', ({ message }) => {
  throw new RangeError(message);
});

/** A pool worker in this thread: a MessageChannel whose far port serves the kernels registered here. */
function channelWorker(): WorkerEndpoint {
  const { port1, port2 } = new MessageChannel();
  serveRanges(port2 as unknown as WorkerEndpoint);
  return {
    postMessage: (message) => port1.postMessage(message),
    addEventListener: (type: string, listener: (e: any) => void) => port1.addEventListener(type as 'message', listener),
    terminate: () => {
      port1.close();
      port2.close();
    },
  };
}

async function squares(runner: RangeRunner, total: number): Promise<Float64Array> {
  const values = allocate(Float64Array, total, runner.sharesMemory);
  for (let i = 0; i < total; i++) values[i] = Math.sin(i);
  const out = allocate(Float64Array, total, runner.sharesMemory);
  await runner.run('test-squares', { values, out }, total);
  return out;
}

describe('splitRange', () => {
  it('covers [0, total) with contiguous ranges whose sizes differ by at most one', () => {
    for (const [total, parts] of [[10, 3], [7, 7], [3, 8], [100_001, 2], [1, 1], [0, 4]]) {
      const ranges = splitRange(total, parts);
      expect(ranges.length).toBe(Math.max(1, Math.min(parts, total)));
      expect(ranges[0][0]).toBe(0);
      expect(ranges.at(-1)![1]).toBe(total);
      for (let r = 1; r < ranges.length; r++) expect(ranges[r][0]).toBe(ranges[r - 1][1]);
      const sizes = ranges.map(([s, e]) => e - s);
      expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
      if (total > 0) expect(Math.min(...sizes)).toBeGreaterThan(0);
    }
  });
});

describe('shareTree', () => {
  it("copies a structure's typed arrays into shared memory for a runner that shares it, and leaves the rest", () => {
    const tree = { kind: 'umap', a: 1.5, index: { data: new Float32Array([1, 2]), rows: [new Int32Array([3])] }, field: null };
    const pool = createRangePool(channelWorker, 2);
    try {
      const shared = shareTree(pool, tree);
      expect(shared).toEqual(tree);
      expect(shared.index.data.buffer).toBeInstanceOf(SharedArrayBuffer);
      expect(shared.index.rows[0].buffer).toBeInstanceOf(SharedArrayBuffer);
      // Already shared: kept as it is.
      expect(shareTree(pool, shared).index.data).toBe(shared.index.data);
    } finally {
      pool.dispose();
    }
    expect(shareTree(inProcessRunner(), tree)).toBe(tree);
  });
});

describe('kernel registry', () => {
  it('names the registered kernels when asked for one it lacks', () => {
    expect(() => kernelFor('no-such-kernel' as never)).toThrow(/No kernel "no-such-kernel".*knn-join/);
  });
});

describe('range pool', () => {
  it('writes the same output over any number of threads as in one', async () => {
    const single = await squares(inProcessRunner(), 1001);
    for (const threads of [1, 2, 3, 5]) {
      const pool = createRangePool(channelWorker, threads);
      try {
        expect(pool.threads).toBe(threads);
        expect(await squares(pool, 1001)).toEqual(single);
        // Fewer indices than threads leaves the extra workers idle.
        expect(await squares(pool, 2)).toEqual(single.subarray(0, 2));
      } finally {
        pool.dispose();
      }
    }
  });

  it("rejects a run with a worker's error, name and message kept, and keeps serving", async () => {
    const pool = createRangePool(channelWorker, 2);
    // The calling thread's range throws first; the worker's range fails the same way.
    const error = await pool.run('test-throws', { message: 'bad rows' }, 4).catch((e) => e);
    expect(error).toMatchObject({ name: 'RangeError', message: 'bad rows' });
    expect(await squares(pool, 10)).toEqual(await squares(inProcessRunner(), 10));
    pool.dispose();
    await expect(squares(pool, 10)).rejects.toThrow(/disposed/);
  });

  it('rejects the pending range of a worker that dies, and starts a new one for the next run', async () => {
    let spawned = 0;
    const dying: WorkerEndpoint = {
      postMessage: () => setTimeout(() => listeners.forEach((l) => l({ message: 'out of memory' } as unknown as Event))),
      addEventListener: (type: string, listener: (e: any) => void) => {
        if (type === 'error') listeners.push(listener);
      },
      terminate: () => {},
    };
    const listeners: ((e: Event) => void)[] = [];
    const pool = createRangePool(() => (spawned++ === 0 ? dying : channelWorker()), 2);
    await expect(squares(pool, 10)).rejects.toThrow(/worker failed: out of memory/);
    expect(await squares(pool, 10)).toEqual(await squares(inProcessRunner(), 10));
    expect(spawned).toBe(2);
    pool.dispose();
  });
});

describe('nnDescent over a range pool', () => {
  it('builds the same graph with 1, 2 and 3 threads as without a runner', async () => {
    const { data } = mixture(1500, 10, 5, 7);
    const alone = await nnDescent(data, 1500, 10, 8, { seed: 4 });
    for (const threads of [1, 2, 3]) {
      const pool = createRangePool(channelWorker, threads);
      try {
        const graph = await nnDescent(data, 1500, 10, 8, { seed: 4, runner: pool });
        expect(graph.indices).toEqual(alone.indices);
        expect(graph.distances).toEqual(alone.distances);
      } finally {
        pool.dispose();
      }
    }
  });
});
