/**
 * NN-descent on 1 thread against more, in one run: seconds per thread count, the speed-up, whether every graph
 * equals the 1-thread one, and recall@k on seeded rows against exact neighbours.
 *
 *   npm run bench:knn-threads -- [--n 100000] [--d 64] [--k 15] [--threads 1,2] [--seed 1] [--repeat 3]
 *
 * Threads come from the Node range pool (worker_threads), started and warmed before the clock runs; the
 * 1-thread figure is nnDescent without a runner, as the fit runs where no pool exists.
 */
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
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

/** This process's CPU seconds so far, its worker threads included. */
function cpuSeconds(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1e6;
}

/** Runnable threads on the machine now (the fourth field of /proc/loadavg), where Linux reports it. */
function runnable(): string {
  try {
    return readFileSync('/proc/loadavg', 'utf8').split(' ')[3].split('/')[0];
  } catch {
    return '?';
  }
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const n = Number(args.get('n') ?? 100_000);
  const d = Number(args.get('d') ?? 64);
  const k = Number(args.get('k') ?? 15);
  const seed = Number(args.get('seed') ?? 1);
  const repeat = Number(args.get('repeat') ?? 3);
  const threadCounts = (args.get('threads') ?? '1,2').split(',').map(Number);
  const data = structuredMixture(n, d, seed);
  console.log(`NN-descent, ${n} x ${d} structured mixture (seed ${seed}), k = ${k}, on ${availableParallelism()} cores`);
  console.log(`${repeat} round(s), each running every thread count in turn (so a busy spell on the machine hits all alike); best wall time kept\n`);

  const pools = new Map<number, RangePool>();
  const best = new Map<number, { seconds: number; cpu: number }>();
  const graphs = new Map<number, KnnGraph>();
  try {
    for (const threads of threadCounts) {
      if (threads <= 1) continue;
      const pool = nodeRangePool({ threads });
      pools.set(threads, pool);
      // Start the threads (tsx registration, module load) before the clock does.
      await nnDescent(structuredMixture(400, 4, seed), 400, 4, 5, { seed, runner: pool });
    }
    for (let round = 0; round < repeat; round++) {
      for (const threads of threadCounts) {
        const load = runnable();
        const started = performance.now();
        const cpu = cpuSeconds();
        const graph = await nnDescent(data, n, d, k, { seed, runner: pools.get(threads) });
        const seconds = (performance.now() - started) / 1000;
        const used = cpuSeconds() - cpu;
        console.log(`round ${round + 1}, ${threads} thread(s): ${seconds.toFixed(2)} s wall, ${used.toFixed(2)} s CPU (runnable threads on the machine at the start: ${load})`);
        if (!(seconds >= (best.get(threads)?.seconds ?? Infinity))) best.set(threads, { seconds, cpu: used });
        graphs.set(threads, graph);
      }
    }
  } finally {
    for (const pool of pools.values()) pool.dispose();
  }
  const reference = graphs.get(threadCounts[0])!;
  const base = best.get(threadCounts[0])!.seconds;
  const rows = threadCounts.map((threads) => {
    const graph = graphs.get(threads)!;
    const { seconds, cpu } = best.get(threads)!;
    const same = graph.indices.every((v, i) => v === reference.indices[i]) && graph.distances.every((v, i) => v === reference.distances[i]);
    return [String(threads), seconds.toFixed(2), cpu.toFixed(2), (base / seconds).toFixed(2), same ? 'yes' : 'NO', recallAtK(graph, data, n, d, 1000, seed).toFixed(4)];
  });
  console.log('');
  printTable(['threads', 'seconds', 'CPU s', `speed-up vs ${threadCounts[0]}`, `graph equals ${threadCounts[0]}-thread`, `recall@${k} (1,000 rows)`], rows, (c) => c !== 4);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
