/**
 * Projection benchmark: this project's UMAP and t-SNE against stock umap-js and tsne-js, on the same data
 * in one run. Prints seconds, speed-up over the stock library, peak memory, trustworthiness@15,
 * kNN recall@15 (against exact high-dimensional neighbours) and, for t-SNE, KL(P || Q).
 *
 *   npm run bench:projection -- [--sizes 1000,5000,20000,100000] [--datasets mixture,fashion]
 *                               [--methods umap,umap-js,tsne,tsne-js] [--seed 1]
 *
 * Each method runs in its own child process, so peak RSS is its own and a stock library that blows
 * up cannot take the run down with it.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { layoutQuality, tsneKl } from '../src/compute/quality';
import { tsne } from '../src/compute/tsne';
import { umap } from '../src/compute/umap';
import { createRng } from '../src/lib/rng';
import { structuredMixture } from '../tests/compute/mixture';
import { parseArgs, peakResidentMb, printTable, runChild } from './lib';

type Method = 'umap' | 'umap-js' | 'tsne' | 'tsne-js';
const ALL_METHODS: Method[] = ['umap', 'umap-js', 'tsne', 'tsne-js'];
const STOCK: Partial<Record<Method, Method>> = { umap: 'umap-js', tsne: 'tsne-js' };
const HERE = dirname(fileURLToPath(import.meta.url));
const FASHION = join(HERE, 'data', 'fashion-conv3.f32');
/** Stock runs predicted past ~10 minutes on a 2-core machine are skipped (measured: see README). */
const STOCK_LIMITS: Record<string, { maxN: number; why: string }> = {
  'umap-js': { maxN: 20_000, why: 'umap-js needs 35 s and 1.2 GB at 20k; at 100k it would take well over 10 min and several GB' },
  'tsne-js': { maxN: 1_000, why: 'tsne-js is exact O(N^2): 37-52 s at 1k here, so ~20 min at 5k' },
};
/** Settings shared by both implementations of each method; iterations are each t-SNE's own default. */
const SETTINGS = { nNeighbors: 15, minDist: 0.1, perplexity: 30, tsneJsIterations: 1000 };

interface RunResult {
  method: Method;
  seconds: number;
  /** CPU seconds of the child (user + system): steadier than wall time on a machine shared with other work. */
  cpuSeconds: number;
  peakRssMb: number;
  peakHeapMb: number;
  layout?: Float32Array;
  error?: string;
}

interface Row {
  dataset: string;
  n: number;
  d: number;
  method: string;
  seconds?: number;
  cpu?: number;
  ratio?: string;
  cpuRatio?: string;
  rss?: number;
  heap?: number;
  trust?: number;
  recall?: number;
  kl?: number;
  note?: string;
}

interface Dataset {
  name: string;
  n: number;
  d: number;
  values: Float32Array;
}

function loadDataset(name: string, n: number, seed: number): Dataset | string {
  if (name === 'mixture') {
    // 100k is the UMAP target's 100k x 128; the smaller sizes are the 64-dim comparisons.
    const d = n >= 100_000 ? 128 : 64;
    return { name, n, d, values: structuredMixture(n, d, seed) };
  }
  if (name === 'fashion') {
    if (!existsSync(FASHION) || !existsSync(FASHION.replace(/\.f32$/, '.json'))) {
      return `missing ${FASHION} (+ .json); write it with node --import tsx bench/recordFashion.ts`;
    }
    const meta = JSON.parse(readFileSync(FASHION.replace(/\.f32$/, '.json'), 'utf8')) as { n: number; d: number };
    if (meta.n < n) return `only ${meta.n} rows recorded`;
    const bytes = readFileSync(FASHION);
    const all = new Float32Array(bytes.buffer, bytes.byteOffset, meta.n * meta.d);
    // A seeded sample of rows, so each size draws from the whole recording rather than its first images.
    const random = createRng(seed);
    const order = new Int32Array(meta.n);
    for (let i = 0; i < meta.n; i++) order[i] = i;
    for (let i = 0; i < n; i++) {
      const j = i + Math.floor(random() * (meta.n - i));
      [order[i], order[j]] = [order[j], order[i]];
    }
    const rows = order.slice(0, n).sort();
    const values = new Float32Array(n * meta.d);
    for (let i = 0; i < n; i++) values.set(all.subarray(rows[i] * meta.d, (rows[i] + 1) * meta.d), i * meta.d);
    return { name, n, d: meta.d, values };
  }
  return `unknown dataset ${name}`;
}

/** Runs one method in this process (the child side) and returns its layout. */
async function runMethod(method: Method, data: Float32Array, n: number, d: number, seed: number, sample: () => void): Promise<Float32Array> {
  const onProgress = () => sample();
  if (method === 'umap') {
    return umap(data, n, d, { nNeighbors: SETTINGS.nNeighbors, minDist: SETTINGS.minDist, seed, onProgress });
  }
  if (method === 'tsne') {
    return tsne(data, n, d, { perplexity: SETTINGS.perplexity, seed, onProgress });
  }
  const rows: number[][] = [];
  for (let i = 0; i < n; i++) rows.push(Array.from(data.subarray(i * d, (i + 1) * d)));
  let out: number[][];
  if (method === 'umap-js') {
    const { UMAP } = await import('umap-js');
    const model = new UMAP({ nNeighbors: SETTINGS.nNeighbors, minDist: SETTINGS.minDist, random: createRng(seed) });
    out = model.fit(rows);
  } else {
    const { default: TSNE } = (await import('tsne-js')) as unknown as { default: new (config: object) => TsneJs };
    const model = new TSNE({ dim: 2, perplexity: SETTINGS.perplexity, nIter: SETTINGS.tsneJsIterations, metric: 'euclidean' });
    model.init({ data: rows, type: 'dense' });
    model.run();
    out = model.getOutput();
  }
  const layout = new Float32Array(n * 2);
  for (let i = 0; i < n; i++) {
    layout[2 * i] = out[i][0];
    layout[2 * i + 1] = out[i][1];
  }
  return layout;
}

interface TsneJs {
  init(input: { data: number[][]; type: 'dense' }): void;
  run(): [number, number];
  getOutput(): number[][];
}

/** Child entry: load the data file, time the method, write the layout, print one JSON line of figures. */
async function child(args: Map<string, string>): Promise<void> {
  const method = args.get('child') as Method;
  const n = Number(args.get('n'));
  const d = Number(args.get('d'));
  const seed = Number(args.get('seed'));
  const bytes = readFileSync(args.get('data')!);
  const data = new Float32Array(bytes.buffer, bytes.byteOffset, n * d);
  let peakHeap = 0;
  const sample = () => {
    const m = process.memoryUsage();
    peakHeap = Math.max(peakHeap, m.heapUsed + m.arrayBuffers);
  };
  sample();
  const timer = setInterval(sample, 100);
  const cpuStart = process.cpuUsage();
  const start = performance.now();
  const layout = await runMethod(method, data, n, d, seed, sample);
  const seconds = (performance.now() - start) / 1000;
  const cpu = process.cpuUsage(cpuStart);
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  sample();
  clearInterval(timer);
  writeFileSync(args.get('out')!, new Uint8Array(layout.buffer, layout.byteOffset, layout.byteLength));
  const peakRssMb = peakResidentMb();
  console.log(JSON.stringify({ seconds, cpuSeconds, peakRssMb, peakHeapMb: peakHeap / 2 ** 20 }));
}

/**
 * This process's peak resident set: VmHWM on Linux, which starts afresh at exec. getrusage's maxRSS
 * would also count the parent's memory at fork time.
 */
async function spawnMethod(method: Method, dataPath: string, n: number, d: number, seed: number, dir: string): Promise<RunResult> {
  const out = join(dir, `${method}.f32`);
  type Figures = { seconds: number; cpuSeconds: number; peakRssMb: number; peakHeapMb: number };
  const args = ['--child', method, '--data', dataPath, '--n', `${n}`, '--d', `${d}`, '--seed', `${seed}`, '--out', out];
  const result = await runChild<Figures>(fileURLToPath(import.meta.url), args);
  if (!result.ok) return { method, seconds: NaN, cpuSeconds: NaN, peakRssMb: NaN, peakHeapMb: NaN, error: result.error };
  const bytes = readFileSync(out);
  return { method, ...result.value, layout: new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + n * 8)) };
}

const fmt = (v: number | undefined, digits: number) => (v === undefined || Number.isNaN(v) ? '-' : v.toFixed(digits));

function printRows(rows: Row[]): void {
  const header = ['dataset', 'method', 'N', 'D', 'wall s', 'cpu s', 'x stock (wall)', 'x stock (cpu)', 'peak RSS MB', 'peak heap MB', 'trust@15', 'recall@15', 'KL', 'note'];
  const cells = rows.map((r) => [
    r.dataset,
    r.method,
    `${r.n}`,
    `${r.d}`,
    fmt(r.seconds, 1),
    fmt(r.cpu, 1),
    r.ratio ?? '-',
    r.cpuRatio ?? '-',
    fmt(r.rss, 0),
    fmt(r.heap, 0),
    fmt(r.trust, 4),
    fmt(r.recall, 4),
    fmt(r.kl, 3),
    r.note ?? '',
  ]);
  printTable(header, cells, (c) => c >= 2 && c <= 12);
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  if (args.has('child')) return child(args);
  const sizes = (args.get('sizes') ?? '1000,5000,20000,100000').split(',').map(Number);
  const datasets = (args.get('datasets') ?? 'mixture,fashion').split(',');
  const methods = (args.get('methods') ?? ALL_METHODS.join(',')).split(',') as Method[];
  const seed = Number(args.get('seed') ?? 1);
  if (datasets.includes('fashion') && !existsSync(FASHION)) {
    console.log(`Recording the default model's conv3 activations on the sample to ${FASHION} ...`);
    const { recordFashionActivations } = await import('./recordFashion');
    await recordFashionActivations(FASHION);
  }
  const dir = mkdtempSync(join(tmpdir(), 'bench-projection-'));
  const rows: Row[] = [];
  const started = performance.now();
  console.log(`Projection benchmark: sizes ${sizes.join(', ')}; datasets ${datasets.join(', ')}; methods ${methods.join(', ')}; seed ${seed}`);
  console.log(
    `UMAP nNeighbors ${SETTINGS.nNeighbors}, minDist ${SETTINGS.minDist} (epochs: each library's default); ` +
      `t-SNE perplexity ${SETTINGS.perplexity}, tsne 750 iterations (its default, 250 exaggerated), ` +
      `tsne-js ${SETTINGS.tsneJsIterations} (its default); euclidean.\n`,
  );
  try {
    for (const name of datasets) {
      for (const n of sizes) {
        const loaded = loadDataset(name, n, seed);
        if (typeof loaded === 'string') {
          console.log(`[skip] ${name} N=${n}: ${loaded}`);
          rows.push({ dataset: name, n, d: 0, method: '-', note: `skipped: ${loaded}` });
          if (name === 'fashion' && loaded.startsWith('missing')) break;
          continue;
        }
        const { d, values } = loaded;
        const dataPath = join(dir, `${name}-${n}.f32`);
        writeFileSync(dataPath, new Uint8Array(values.buffer, values.byteOffset, values.byteLength));
        const results: RunResult[] = [];
        const skipped = new Set<Method>();
        for (const method of methods) {
          const limit = STOCK_LIMITS[method];
          if (limit && n > limit.maxN) {
            console.log(`[skip] ${method} ${name} N=${n}: ${limit.why}`);
            skipped.add(method);
            continue;
          }
          process.stdout.write(`[run ] ${method} ${name} N=${n} D=${d} ... `);
          const result = await spawnMethod(method, dataPath, n, d, seed, dir);
          console.log(
            result.error
              ? `failed (${result.error})`
              : `${result.seconds.toFixed(1)} s (cpu ${result.cpuSeconds.toFixed(1)} s), peak RSS ${result.peakRssMb.toFixed(0)} MB`,
          );
          results.push(result);
        }
        const done = results.filter((r) => r.layout);
        // Exact neighbours for every point up to 5k; a seeded sample of query points beyond (said in the note).
        const sampleSize = n <= 5000 ? n : n <= 20_000 ? 2000 : 1000;
        process.stdout.write(`[eval] ${name} N=${n}: trustworthiness/recall over ${Math.min(n, sampleSize)} points ... `);
        const t0 = performance.now();
        const quality = layoutQuality(values, n, d, done.map((r) => r.layout!), { k: 15, sampleSize, seed });
        const kl = new Map<Method, number>();
        for (const r of done) {
          if (r.method === 'tsne' || r.method === 'tsne-js') kl.set(r.method, await tsneKl(values, n, d, r.layout!, { perplexity: SETTINGS.perplexity }));
        }
        console.log(`${((performance.now() - t0) / 1000).toFixed(1)} s`);
        for (const method of methods) {
          if (skipped.has(method)) {
            rows.push({ dataset: name, n, d, method, note: 'skipped: would exceed ~10 min' });
            continue;
          }
          const r = results.find((result) => result.method === method)!;
          const q = r.layout ? quality[done.indexOf(r)] : undefined;
          const stock = STOCK[r.method];
          const stockResult = stock ? results.find((s) => s.method === stock && s.layout) : undefined;
          const notes: string[] = [];
          if (r.error) notes.push(`failed: ${r.error}`);
          if (q && q.queries < n) notes.push(`quality over ${q.queries} sampled points`);
          if (r.method === 'tsne-js') notes.push('unseeded (Math.random)');
          rows.push({
            dataset: name,
            n,
            d,
            method: r.method,
            seconds: r.seconds,
            cpu: r.cpuSeconds,
            ratio: stockResult ? `${(stockResult.seconds / r.seconds).toFixed(1)}x` : undefined,
            cpuRatio: stockResult ? `${(stockResult.cpuSeconds / r.cpuSeconds).toFixed(1)}x` : undefined,
            rss: r.peakRssMb,
            heap: r.peakHeapMb,
            trust: q?.trustworthiness,
            recall: q?.recall,
            kl: kl.get(r.method),
            note: notes.join('; ') || undefined,
          });
        }
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  console.log(`\nResults (${((performance.now() - started) / 60000).toFixed(1)} min in all; KL uses exact P up to N=2000, else P on 90 neighbours; Z exact):\n`);
  printRows(rows);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
