import { describe, expect, it } from 'vitest';
import { createRangePool, serveRanges } from '../../../src/workers/rangePool';
import type { WorkerEndpoint } from '../../../src/workers/rpc';
import { projectAtScale } from '../../../src/compute/scaleLayout';
import { mixture } from '../mixture';

/** A pool worker in this thread: a MessageChannel whose far port serves the registered kernels. */
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

describe('placing rows through a range runner', () => {
  for (const method of ['umap', 'tsne'] as const) {
    it(`${method}: the same places on 1, 2 and 3 threads as in process`, async () => {
      const n = 900;
      const d = 8;
      const { data } = mixture(n, d, 4, 21);
      const options = { method, metric: 'euclidean', pcaDims: 0, seed: 3, iterations: 60 } as const;
      const alone = await projectAtScale(data, n, d, options, { fitSample: 400 });
      for (const threads of [1, 2, 3]) {
        const pool = createRangePool(channelWorker, threads);
        try {
          const pooled = await projectAtScale(data, n, d, options, { fitSample: 400, runner: pool });
          expect(pooled.layout).toEqual(alone.layout);
        } finally {
          pool.dispose();
        }
      }
    });
  }
});
