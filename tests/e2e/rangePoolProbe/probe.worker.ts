import { nnDescent } from '../../../src/compute/knn';
import { canShareMemory, inProcessRunner } from '../../../src/compute/parallel/runner';
import { projectAtScale } from '../../../src/compute/scaleLayout';
import { browserRangePool } from '../../../src/workers/browserRangePool';
import { mixture } from '../../compute/mixture';

/** What the probe worker answers: its environment, and NN-descent without the pool against with it. */
export interface RangePoolProbeResult {
  sharesMemory: boolean;
  hardwareConcurrency: number;
  threads: number;
  sameGraph: boolean;
  secondsAlone: number;
  secondsPooled: number;
  /** UMAP fitted on a sample and the rest placed, with the pool and in the worker alone: the same layout. */
  samePlaces: boolean;
  placedRows: number;
}

self.onmessage = async (event: MessageEvent<{ n: number; d: number }>) => {
  const { n, d } = event.data;
  const pool = browserRangePool();
  try {
    const { data } = mixture(n, d, 12, 1);
    // Workers start with the pool; one small run waits for them before the clock does.
    await nnDescent(mixture(400, 4, 3, 2).data, 400, 4, 5, { seed: 1, runner: pool });
    let t = performance.now();
    const alone = await nnDescent(data, n, d, 15, { seed: 1 });
    const secondsAlone = (performance.now() - t) / 1000;
    t = performance.now();
    const pooled = await nnDescent(data, n, d, 15, { seed: 1, runner: pool });
    const secondsPooled = (performance.now() - t) / 1000;
    const sameGraph = alone.indices.every((v, i) => v === pooled.indices[i]) && alone.distances.every((v, i) => v === pooled.distances[i]);
    const small = mixture(3000, 16, 6, 3).data;
    const options = { method: 'umap', metric: 'euclidean', pcaDims: 0, seed: 2, iterations: 60 } as const;
    const placedAlone = await projectAtScale(small, 3000, 16, options, { fitSample: 1000, runner: inProcessRunner() });
    const placedPooled = await projectAtScale(small, 3000, 16, options, { fitSample: 1000, runner: pool });
    const samePlaces = placedAlone.layout.every((v, i) => v === placedPooled.layout[i]);
    const result: RangePoolProbeResult = {
      sharesMemory: canShareMemory(),
      hardwareConcurrency: navigator.hardwareConcurrency,
      threads: pool.threads,
      sameGraph,
      secondsAlone,
      secondsPooled,
      samePlaces,
      placedRows: 3000 - (placedPooled.sample?.length ?? 3000),
    };
    self.postMessage({ ok: true, result });
  } catch (e) {
    self.postMessage({ ok: false, error: String(e) });
  } finally {
    pool.dispose();
  }
};
