import { canShareMemory, inProcessRunner, type RangePool } from '../compute/parallel/runner';
import { createRangePool } from './rangePool';
import type { WorkerEndpoint } from './rpc';

/**
 * A range pool for a worker of the page (the compute worker): `threads` ranges (default
 * navigator.hardwareConcurrency), the calling worker computing one and nested module workers the others, over
 * shared memory. Where the page is not cross-origin isolated (no SharedArrayBuffer) or there is one core, it
 * runs everything in the calling worker.
 */
export function browserRangePool(threads = globalThis.navigator?.hardwareConcurrency ?? 1): RangePool {
  if (!canShareMemory() || threads <= 1) return { ...inProcessRunner(), dispose() {} };
  const spawn = () => new Worker(new URL('./rangePool.worker.ts', import.meta.url), { type: 'module', name: 'range-pool' }) as WorkerEndpoint;
  return createRangePool(spawn, threads);
}
