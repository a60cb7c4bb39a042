/**
 * Host memory of loading a GPT-2-small-sized checkpoint (124M parameters, about 500 MB of float32) with the
 * real loader, TextModel.fromFiles, per TF.js backend:
 *
 *   npm run bench:text-memory -- [--backends wasm,cpu] [--src src] [--dir /tmp/gpt2-small-synthetic]
 *
 * The parent writes config.json and model.safetensors of GPT-2 small's shapes (seeded values, tied lm_head)
 * to `--dir` once, streaming it to disk. Each backend then loads it in its own child process: the child
 * reads both files as the CLI does, resets its peak RSS (VmHWM, through /proc/self/clear_refs) and loads.
 * Reported: the child's RSS before the load (the file bytes included), the peak RSS during the load (VmHWM,
 * exact), the peak of process.memoryUsage().rss sampled every 5 ms from a worker thread (the load itself
 * is synchronous, so the main thread cannot sample it), and the main thread's heap and array buffers after.
 * `--src` is the source tree whose loader is measured, e.g. a worktree of an older commit.
 */
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync, writeSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Worker } from 'node:worker_threads';
import { createRng } from '../src/lib/rng';
import { gpt2WeightShapes } from '../src/model/text/gpt2';
import { parseGpt2Config } from '../src/model/text/gpt2Config';
import { parseArgs, peakResidentMb, printTable, runChild } from './lib';

const HERE = dirname(fileURLToPath(import.meta.url));
/** config.json as the Hugging Face hub publishes GPT-2 small's. */
const CONFIG_JSON = {
  activation_function: 'gelu_new',
  architectures: ['GPT2LMHeadModel'],
  layer_norm_epsilon: 1e-5,
  model_type: 'gpt2',
  n_ctx: 1024,
  n_embd: 768,
  n_head: 12,
  n_inner: null,
  n_layer: 12,
  n_positions: 1024,
  vocab_size: 50257,
};
/** The shapes the checkpoint is written in, as the loader reads them from CONFIG_JSON. */
const GPT2_SMALL = parseGpt2Config(CONFIG_JSON);
const MB = 2 ** 20;

/** A full garbage collection, so that RSS before and after counts only what is still referenced. */
const gc = (() => {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
})();

interface LoadResult {
  backend: string;
  fileMb: number;
  rssBeforeMb: number;
  peakRssMb: number;
  sampledPeakRssMb: number;
  samples: number;
  heapUsedAfterMb: number;
  arrayBuffersAfterMb: number;
  rssAfterMb: number;
  loadSeconds: number;
}

/** Writes the checkpoint tensor by tensor (never the whole file in memory): header padded to 8 bytes, then data. */
function writeCheckpoint(dir: string): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'config.json'), JSON.stringify(CONFIG_JSON, null, 2));
  const shapes = [...gpt2WeightShapes(GPT2_SMALL)];
  const header: Record<string, unknown> = { __metadata__: { format: 'pt' } };
  let offset = 0;
  for (const [name, shape] of shapes) {
    const bytes = shape.reduce((n, d) => n * d, 1) * 4;
    header[name] = { dtype: 'F32', shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (json.length % 8)) % 8);
  const fd = openSync(join(dir, 'model.safetensors'), 'w');
  try {
    const length = Buffer.alloc(8);
    length.writeBigUInt64LE(BigInt(json.length));
    writeSync(fd, length);
    writeSync(fd, json);
    // A seeded block of GPT-2's init scale, repeated: the loader's memory does not depend on the values.
    const random = createRng(1);
    const block = Float32Array.from({ length: 1 << 16 }, () => (2 * random() - 1) * 0.02 * Math.sqrt(3));
    for (const [, shape] of shapes) {
      let left = shape.reduce((n, d) => n * d, 1);
      while (left > 0) {
        const n = Math.min(left, block.length);
        writeSync(fd, new Uint8Array(block.buffer, 0, n * 4));
        left -= n;
      }
    }
  } finally {
    closeSync(fd);
  }
}

/** Samples the process's RSS from another thread, so that a synchronous load on the main thread is seen. */
function startSampler(): { stop: () => Promise<{ peakMb: number; samples: number }> } {
  const worker = new Worker(
    `const { parentPort } = require('node:worker_threads');
     let peak = 0, samples = 0;
     const timer = setInterval(() => { peak = Math.max(peak, process.memoryUsage.rss()); samples++; }, 5);
     parentPort.on('message', () => { clearInterval(timer); parentPort.postMessage({ peak, samples }); });`,
    { eval: true },
  );
  return {
    stop: () =>
      new Promise((done) => {
        worker.once('message', ({ peak, samples }: { peak: number; samples: number }) => {
          void worker.terminate();
          done({ peakMb: peak / MB, samples });
        });
        worker.postMessage('stop');
      }),
  };
}

async function child(backend: string, src: string, dir: string): Promise<LoadResult> {
  const { chooseBackend } = (await import(pathToFileURL(join(src, 'model/backend.ts')).href)) as typeof import('../src/model/backend');
  const { TextModel } = (await import(pathToFileURL(join(src, 'model/text/textModel.ts')).href)) as typeof import('../src/model/text/textModel');
  await chooseBackend({ override: backend, node: true });
  let files: { name: string; bytes: Uint8Array }[] | null = ['config.json', 'model.safetensors'].map((name) => ({ name, bytes: readFileSync(join(dir, name)) }));
  const fileMb = files[1].bytes.byteLength / MB;
  gc();
  const rssBeforeMb = process.memoryUsage.rss() / MB;
  writeFileSync('/proc/self/clear_refs', '5'); // resets VmHWM to the current RSS
  const sampler = startSampler();
  const started = performance.now();
  const model = await TextModel.fromFiles(files, 'gpt2-small-synthetic');
  const loadSeconds = (performance.now() - started) / 1000;
  const peakRssMb = peakResidentMb();
  const sampled = await sampler.stop();
  files = null; // as a caller does once the load returns
  gc();
  const after = process.memoryUsage();
  model.dispose();
  return {
    backend,
    fileMb,
    rssBeforeMb,
    peakRssMb,
    sampledPeakRssMb: sampled.peakMb,
    samples: sampled.samples,
    heapUsedAfterMb: after.heapUsed / MB,
    arrayBuffersAfterMb: after.arrayBuffers / MB,
    rssAfterMb: after.rss / MB,
    loadSeconds,
  };
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const src = resolve(args.get('src') ?? join(HERE, '..', 'src'));
  const dir = resolve(args.get('dir') ?? '/tmp/gpt2-small-synthetic');
  if (args.has('child')) {
    console.log(JSON.stringify(await child(args.get('child')!, src, dir)));
    return;
  }
  if (!existsSync(join(dir, 'model.safetensors'))) writeCheckpoint(dir);
  const backends = (args.get('backends') ?? 'wasm,cpu').split(',');
  const rows: string[][] = [];
  for (const backend of backends) {
    const result = await runChild<LoadResult>(fileURLToPath(import.meta.url), ['--child', backend, '--src', src, '--dir', dir]);
    if (!result.ok) {
      console.error(`${backend}: ${result.error}`);
      continue;
    }
    const r = result.value;
    const mb = (x: number) => x.toFixed(0);
    rows.push([r.backend, mb(r.fileMb), mb(r.rssBeforeMb), mb(r.peakRssMb), mb(r.peakRssMb - r.rssBeforeMb), mb(r.sampledPeakRssMb), mb(r.rssAfterMb), mb(r.arrayBuffersAfterMb), mb(r.heapUsedAfterMb), r.loadSeconds.toFixed(1)]);
  }
  console.log(`GPT-2 small shapes (124M parameters, F32, tied lm_head), loader from ${src}`);
  printTable(
    ['backend', 'file MB', 'RSS before MB', 'peak RSS MB', 'peak - before', 'sampled peak MB', 'RSS after MB', 'arrayBuffers after MB', 'heap after MB', 'load s'],
    rows,
    (c) => c > 0,
  );
}

await main();
