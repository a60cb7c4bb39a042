/**
 * NN-descent on 1 thread against more, in one run: seconds per thread count, the speed-up, whether every graph
 * equals the 1-thread one, and recall@k on seeded rows against exact neighbours.
 *
 *   npm run bench:knn-threads -- [--n 100000] [--d 64] [--k 15] [--threads 1,2] [--seed 1] [--repeat 1]
 *
 * Threads come from the Node range pool (worker_threads), started and warmed before the clock runs; the
 * 1-thread figure is nnDescent without a runner, as the fit runs where no pool exists.
 */
import { nodeRangePool } from '../src/cli/rangePool';
import { nnDescent, squaredDistance, type KnnGraph } from '../src/compute/knn';
import type { RangePool } from '../src/compute/parallel/runner';
import { createRng } from '../src/lib/rng';
import { structuredMixture } from '../tests/compute/mixture';
import { parseArgs, printTable } from './lib';

/** Fraction of the true k nearest neighbours of `probes` seeded rows that the graph lists. */
function recallAtK(graph: KnnGraph, data: Float32Array, n: number, d: number, probes: number, seed: number): number {
  const random = createRng(seed + 1);
  const { k } = graph;
  let hits = 0;
  // The k nearest so far, sorted ascending, by insertion: a full sort of n distances per probe costs far more.
  const bestKey = new Float64Array(k);
  const bestRow = new Int32Array(k);
  for (let t = 0; t < probes; t++) {
    const i = Math.floor(random() * n);
    bestKey.fill(Infinity);
    bestRow.fill(-1);
    for (let j = 0; j < n; j++) {
      if (j === i) continue;
      const s = squaredDistance(data, i * d, j * d, d);
      if (!(s < bestKey[k - 1])) continue;
      let pos = k - 1;
      for (; pos > 0 && bestKey[pos - 1] > s; pos--) {
        bestKey[pos] = bestKey[pos - 1];
        bestRow[pos] = bestRow[pos - 1];
      }
      bestKey[pos] = s;
      bestRow[pos] = j;
    }
    const nearest = new Set(bestRow);
    for (let s = 0; s < k; s++) if (nearest.has(graph.indices[i * k + s])) hits++;
  }
  return hits / (probes * k);
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const n = Number(args.get('n') ?? 100_000);
  const d = Number(args.get('d') ?? 64);
  const k = Number(args.get('k') ?? 15);
  const seed = Number(args.get('seed') ?? 1);
  const repeat = Number(args.get('repeat') ?? 1);
  const threadCounts = (args.get('threads') ?? '1,2').split(',').map(Number);
  const data = structuredMixture(n, d, seed);
  console.log(`NN-descent, ${n} x ${d} structured mixture (seed ${seed}), k = ${k}; ${repeat} run(s) per thread count, best kept`);

  const rows: string[][] = [];
  let reference: KnnGraph | null = null;
  let baseSeconds = 0;
  for (const threads of threadCounts) {
    let pool: RangePool | null = null;
    if (threads > 1) {
      pool = nodeRangePool({ threads });
      // Start the threads (tsx registration, module load) before the clock does.
      await nnDescent(structuredMixture(400, 4, seed), 400, 4, 5, { seed, runner: pool });
    }
    try {
      let best = Infinity;
      let graph: KnnGraph | null = null;
      for (let r = 0; r < repeat; r++) {
        const started = performance.now();
        graph = await nnDescent(data, n, d, k, { seed, runner: pool ?? undefined });
        best = Math.min(best, (performance.now() - started) / 1000);
      }
      reference ??= graph;
      if (threads === threadCounts[0]) baseSeconds = best;
      const same = graph!.indices.every((v, i) => v === reference!.indices[i]) && graph!.distances.every((v, i) => v === reference!.distances[i]);
      rows.push([String(threads), best.toFixed(2), (baseSeconds / best).toFixed(2), same ? 'yes' : 'NO', recallAtK(graph!, data, n, d, 1000, seed).toFixed(4)]);
    } finally {
      pool?.dispose();
    }
  }
  printTable(['threads', 'seconds', `speed-up vs ${threadCounts[0]}`, `graph equals ${threadCounts[0]}-thread`, `recall@${k} (1,000 rows)`], rows, (c) => c !== 3);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
