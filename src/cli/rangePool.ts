import { availableParallelism } from 'node:os';
import type { Worker } from 'node:worker_threads';
import type { RangePool } from '../compute/parallel/runner';
import { createRangePool } from '../workers/rangePool';
import type { WorkerEndpoint } from '../workers/rpc';
import { tsThread } from './tsThread';

const THREAD_ENTRY = new URL('./rangePoolThread.ts', import.meta.url);

export interface NodeRangePoolOptions {
  /** Threads, the calling one included (default: os.availableParallelism()). */
  threads?: number;
  /** The thread's entry module (default src/cli/rangePoolThread.ts); another must also call serveRanges. */
  entry?: URL;
}

/** A range pool over worker_threads (TypeScript entries, started by tsThread). */
export function nodeRangePool(options: NodeRangePoolOptions = {}): RangePool {
  const threads = options.threads ?? availableParallelism();
  const entry = options.entry ?? THREAD_ENTRY;
  return createRangePool(() => workerEndpoint(tsThread(entry)), threads);
}

/**
 * A worker_threads Worker seen through the Web Worker API the pool speaks; an exit counts as a failure. The
 * thread holds the process open only while a range it was sent is unanswered, so a pool nobody disposed never
 * keeps a finished command from exiting.
 */
function workerEndpoint(worker: Worker): WorkerEndpoint {
  let unanswered = 0;
  worker.unref();
  worker.on('message', () => {
    if (--unanswered === 0) worker.unref();
  });
  const errorListeners: ((e: Event) => void)[] = [];
  const raise = (message: string) => {
    for (const l of errorListeners) l({ message } as unknown as Event);
  };
  worker.on('error', (e) => raise(e.message));
  worker.on('exit', (code) => raise(`worker exited with code ${code}`));
  return {
    postMessage: (message, transfer) => {
      if (unanswered++ === 0) worker.ref();
      worker.postMessage(message, transfer as never);
    },
    addEventListener: (type: string, listener: (e: any) => void) => {
      if (type === 'message') worker.on('message', (data) => listener({ data }));
      else if (type === 'error') errorListeners.push(listener);
    },
    terminate: () => {
      worker.removeAllListeners('exit');
      void worker.terminate();
    },
  };
}
