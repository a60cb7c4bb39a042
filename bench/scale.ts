/**
 * Million-point layouts: a fit on a sample with every other row placed into it, against a full fit where one
 * still runs, on 1 and 2 threads. Prints seconds (wall and CPU), the fit's and the placement's share, peak
 * RSS, and recall@15 of the layout on 1,000 seeded points against their exact high-dimensional neighbours.
 *
 *   npm run bench:scale -- [--sizes 100000,300000,1000000] [--full-max 300000] [--threads 2] [--seed 1]
 *                          [--fit-sample 100000] [--npy acts.npy]   (real activations: the first rows of a .npy)
 *
 * Each layout runs in its own child process, so its peak RSS is its own; the data is made (or read) in the
 * child and counts towards it, as a user's rows would.
 */
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { layoutQuality } from '../src/compute/quality';
import { FIT_SAMPLE, projectAtScale } from '../src/compute/scaleLayout';
import { nodeRangePool } from '../src/cli/rangePool';
import { fileSource } from '../src/cli/npyFile';
import { npyRowChunks, readNpyHeader } from '../src/export/npyRead';
import { structuredMixture } from '../tests/compute/mixture';
import { parseArgs, peakResidentMb, printTable, runChild } from './lib';

const D = 64;
const RECALL_QUERIES = 1000;

interface Figures {
  seconds: number;
  cpuSeconds: number;
  fitSeconds: number;
  placeSeconds: number;
  peakRssMb: number;
  recall: number;
  d: number;
  fitted: number;
}

interface Run {
  n: number;
  mode: 'full' | 'sample';
  threads: number;
}

async function loadRows(n: number, seed: number, npy: string | undefined): Promise<{ data: Float32Array; d: number }> {
  if (!npy) return { data: structuredMixture(n, D, seed), d: D };
  const source = await fileSource(npy);
  try {
    const header = await readNpyHeader(source, npy);
    if (header.rows < n) throw new Error(`${npy} has ${header.rows} rows; ${n} were asked for`);
    const data = new Float32Array(n * header.dim);
    for await (const chunk of npyRowChunks(source, header, undefined, npy)) {
      if (chunk.start >= n) break;
      const count = Math.min(chunk.count, n - chunk.start);
      data.set(chunk.values.subarray(0, count * header.dim), chunk.start * header.dim);
    }
    return { data, d: header.dim };
  } finally {
    await source.close();
  }
}

async function child(args: Map<string, string>): Promise<void> {
  const n = Number(args.get('n'));
  const threads = Number(args.get('threads'));
  const seed = Number(args.get('seed'));
  const fitSample = args.get('mode') === 'full' ? n : Number(args.get('fit-sample'));
  const { data, d } = await loadRows(n, seed, args.get('npy'));
  const pool = threads > 1 ? nodeRangePool({ threads }) : undefined;
  const cpuStart = process.cpuUsage();
  const start = performance.now();
  let fitDone = 0;
  try {
    const options = { method: 'umap', metric: 'euclidean', pcaDims: 0, seed } as const;
    const scaled = await projectAtScale(data, n, d, options, {
      fitSample,
      runner: pool,
      // The fit reports up to 600 of 1000 when rows are placed after it; the first report past it ends the fit.
      onProgress: (done) => {
        if (!fitDone && done >= 600 && fitSample < n) fitDone = performance.now();
      },
    });
    const seconds = (performance.now() - start) / 1000;
    const cpu = process.cpuUsage(cpuStart);
    const peakRssMb = peakResidentMb();
    const fitSeconds = fitSample < n ? (fitDone - start) / 1000 : seconds;
    const [quality] = layoutQuality(data, n, d, [scaled.layout], { k: 15, sampleSize: RECALL_QUERIES, seed });
    const figures: Figures = {
      seconds,
      cpuSeconds: (cpu.user + cpu.system) / 1e6,
      fitSeconds,
      placeSeconds: seconds - fitSeconds,
      peakRssMb,
      recall: quality.recall,
      d,
      fitted: Math.min(n, fitSample),
    };
    console.log(JSON.stringify(figures));
  } finally {
    pool?.dispose();
  }
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  if (args.has('child')) return child(args);
  const sizes = (args.get('sizes') ?? '100000,300000,1000000').split(',').map(Number);
  const fullMax = Number(args.get('full-max') ?? 300_000);
  const threads = Number(args.get('threads') ?? Math.min(2, availableParallelism()));
  const seed = Number(args.get('seed') ?? 1);
  const fitSample = Number(args.get('fit-sample') ?? FIT_SAMPLE);
  const npy = args.get('npy');
  const runs: Run[] = [];
  for (const n of sizes) {
    if (n <= fullMax) runs.push({ n, mode: 'full', threads });
    // Threads ratios: the smallest size's fit, and the first fit-and-place, again on one thread.
    if (n === sizes[0] && threads > 1) runs.push({ n, mode: n <= fitSample ? 'full' : 'sample', threads: 1 });
    if (n > fitSample) {
      if (threads > 1 && n === sizes.find((m) => m > fitSample) && n !== sizes[0]) runs.push({ n, mode: 'sample', threads: 1 });
      runs.push({ n, mode: 'sample', threads });
    }
  }
  const data = npy ? `the first rows of ${npy}` : `a seeded ${D}-dim mixture with local structure (12 clusters, each a noisy 8-dim manifold)`;
  console.log(`Scale benchmark: UMAP (nNeighbors 15, minDist 0.1, euclidean) of ${data}; fit sample ${fitSample.toLocaleString('en')}; seed ${seed}.`);
  console.log(`recall@15 over ${RECALL_QUERIES.toLocaleString('en')} seeded points against exact neighbours; ${availableParallelism()} cores here.\n`);
  const results: (Run & { figures?: Figures; error?: string })[] = [];
  const started = performance.now();
  for (const run of runs) {
    process.stdout.write(`[run ] N=${run.n} ${run.mode === 'full' ? 'full fit' : `fit ${fitSample} + place`} on ${run.threads} thread${run.threads > 1 ? 's' : ''} ... `);
    const childArgs = ['--child', '--n', `${run.n}`, '--mode', run.mode, '--threads', `${run.threads}`, '--seed', `${seed}`, '--fit-sample', `${fitSample}`];
    if (npy) childArgs.push('--npy', npy);
    const result = await runChild<Figures>(fileURLToPath(import.meta.url), childArgs);
    if (!result.ok) {
      console.log(`failed (${result.error})`);
      results.push({ ...run, error: result.error });
      continue;
    }
    const f = result.value;
    console.log(`${f.seconds.toFixed(1)} s, peak RSS ${f.peakRssMb.toFixed(0)} MB, recall@15 ${f.recall.toFixed(4)}`);
    results.push({ ...run, figures: f });
  }
  console.log(`\nResults (${((performance.now() - started) / 60_000).toFixed(1)} min in all):\n`);
  const fullRecall = (n: number) => results.find((r) => r.n === n && r.mode === 'full' && r.figures)?.figures!.recall;
  const oneThread = (r: Run) => results.find((o) => o.threads === 1 && o.n === r.n && o.mode === r.mode && o.figures)?.figures;
  const header = ['N', 'D', 'layout', 'threads', 'wall s', 'cpu s', 'fit s', 'place s', 'peak RSS MB', 'recall@15', 'of full fit', 'x 1 thread'];
  const rows = results.map((r) => {
    const f = r.figures;
    if (!f) return [`${r.n}`, '-', r.mode, `${r.threads}`, '-', '-', '-', '-', '-', '-', '-', `failed: ${r.error}`];
    const full = fullRecall(r.n);
    const one = r.threads > 1 ? oneThread(r) : undefined;
    return [
      `${r.n}`,
      `${f.d}`,
      r.mode === 'full' ? 'full fit' : `fit ${f.fitted} + place`,
      `${r.threads}`,
      f.seconds.toFixed(1),
      f.cpuSeconds.toFixed(1),
      f.fitSeconds.toFixed(1),
      f.placeSeconds.toFixed(1),
      f.peakRssMb.toFixed(0),
      f.recall.toFixed(4),
      full && r.mode === 'sample' ? `${((100 * f.recall) / full).toFixed(1)}%` : '-',
      one ? `${(one.seconds / f.seconds).toFixed(2)}x` : '-',
    ];
  });
  printTable(header, rows, (c) => c !== 2);
}

await main();
