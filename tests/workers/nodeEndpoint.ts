import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { WorkerEndpoint } from '../../src/workers/rpc';

/** A worker_threads Worker seen through the Web Worker API the RPC client expects; exit counts as death. */
export function nodeWorkerEndpoint(file: URL): WorkerEndpoint {
  // Register tsx inside the thread itself: test runners do not pass their loaders on to workers.
  const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx/esm/api').replace(/index\.cjs$/, 'index.mjs')).href;
  const boot = `import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(file.href)}); })`;
  const worker = new Worker(boot, { eval: true });
  const errorListeners: ((e: Event) => void)[] = [];
  const raise = (message: string) => {
    for (const l of errorListeners) l({ message, preventDefault() {} } as unknown as Event);
  };
  worker.on('error', (e) => raise(e.message));
  worker.on('exit', (code) => raise(`worker exited with code ${code}`));
  return {
    postMessage: (message, transfer) => worker.postMessage(message, transfer as never),
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
