import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { getThreadsCount, setThreadsCount } from '@tensorflow/tfjs-backend-wasm';

const require = createRequire(import.meta.url);
const FACTORY = '@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm-threaded-simd.js';
const WORKER = '@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm-threaded-simd.worker.js';
/** Where the pthread worker's message handler starts, and how the factory counts cores in Node: what the shims below rely on. */
const WORKER_ANCHOR = 'self.onmessage=e=>{try{if(e.data.cmd==="load")';
const CORES_ANCHOR = 'function _emscripten_num_logical_cores(){if(ENVIRONMENT_IS_NODE)return require("os").cpus().length;';

/** How many threads the wasm backend got, and why not more where it got fewer than asked. */
export interface WasmThreads {
  threads: number;
  note: string | null;
}

/**
 * The pthread worker of tfjs-backend-wasm's threaded build as a file Node can start. TF.js hands Emscripten the
 * worker and the module factory as Blobs, and Node's Worker takes neither a blob: URL nor a Blob: this file is the
 * package's own worker source, with its "load" handler pointed at the factory's file on disk instead of the Blob.
 */
function workerFile(): string {
  const { wasmWorkerContents } = require(WORKER) as { wasmWorkerContents: string };
  if (!wasmWorkerContents.includes(WORKER_ANCHOR)) throw new Error('its pthread worker no longer starts as expected');
  // TF.js escapes the source's newlines the same way before making its Blob (they sit inside string literals).
  const source =
    wasmWorkerContents.replace(/\n/g, '\\n') +
    `\n{const load=self.onmessage;self.onmessage=e=>{if(e.data.cmd==="load"&&typeof e.data.urlOrBlob!=="string")e.data.urlOrBlob=${JSON.stringify(require.resolve(FACTORY))};load(e)}}\n`;
  const dir = join(os.tmpdir(), 'atlas-tfjs-wasm-threads');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `pthread-${createHash('sha256').update(source).digest('hex').slice(0, 16)}.cjs`);
  // Written beside it and renamed into place: processes starting at once (local shards) never read a half-written file.
  const partial = `${file}.${process.pid}`;
  writeFileSync(partial, source);
  renameSync(partial, file);
  return file;
}

/** Emscripten's pthread pool as the wasm backend's module holds it. */
interface PthreadPool {
  unusedWorkers: { terminate(): void }[];
  runningWorkers: { unref(): void }[];
}

/**
 * Ends the pool's idle workers and lets Node exit while XNNPACK's threads live. Emscripten starts 8 workers, each
 * with its own copy of the factory's JavaScript (about 90 MB of RSS for the 7 idle ones at 2 threads), while
 * XNNPACK creates its threads once, when the backend starts; a worker is unref'd only when its thread ends, so the
 * waiting threads would otherwise keep the process open forever.
 */
function trimPthreads(): void {
  const pool = (tf.backend() as unknown as { wasm?: { PThread?: PthreadPool } }).wasm?.PThread;
  if (!pool) return;
  for (const worker of pool.unusedWorkers.splice(0)) worker.terminate();
  for (const worker of pool.runningWorkers) worker.unref();
}

/**
 * Runs `init` (which initialises the wasm backend: chooseBackend) with tfjs-backend-wasm's threaded build set to
 * `threads` threads, in Node, where TF.js leaves it off: its feature test finds no threads in Node, its pthread
 * worker comes as a Blob Node cannot start (see workerFile), and its C++ caps XNNPACK's pool at half the cores the
 * factory counts with os.cpus(), assuming two hyper-threads per core (one thread on 2 cores; the page's build is
 * patched the same way in vite.config.ts). The shims last while `init` runs. Where they cannot apply (the package
 * changed), the backend starts on one thread and the note says why. XNNPACK splits a product by output tiles, so
 * the values do not depend on the thread count (tests/cli/wasmThreads.test.ts).
 */
export async function withNodeWasmThreads<T>(threads: number, init: () => Promise<T>): Promise<{ value: T } & WasmThreads> {
  if (threads <= 1) {
    const value = await init();
    return { value, threads: tf.getBackend() === 'wasm' ? getThreadsCount() : 1, note: null };
  }
  let worker: string;
  try {
    worker = workerFile();
    if (!readFileSync(require.resolve(FACTORY), 'utf8').includes(CORES_ANCHOR)) throw new Error('its factory no longer counts cores as expected');
  } catch (e) {
    const value = await init();
    return { value, threads: 1, note: `tfjs-backend-wasm's threads could not start in Node: ${(e as Error).message}` };
  }
  const createObjectURL = URL.createObjectURL;
  const cpus = os.cpus;
  tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', true);
  setThreadsCount(threads);
  URL.createObjectURL = (blob: Blob) => (blob.type === 'application/javascript' ? worker : createObjectURL(blob));
  os.cpus = () => [...cpus(), ...cpus()];
  try {
    const value = await init();
    const got = tf.getBackend() === 'wasm' ? getThreadsCount() : 1;
    trimPthreads();
    return { value, threads: got, note: got < threads ? `asked for ${threads} wasm threads, got ${got}` : null };
  } finally {
    URL.createObjectURL = createObjectURL;
    os.cpus = cpus;
  }
}
