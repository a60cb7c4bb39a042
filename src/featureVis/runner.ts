import { abortError, isAbortError } from '../lib/abort';
import type { CachedIcon, IconCache } from './cache';
import type { IconJob, IconQueue, LevelProgress } from './queue';

/**
 * The first batch's size; each next batch doubles up to the batch size, so the first icons come in a quarter of a
 * full batch's time on a slow backend, and later batches use its throughput.
 */
const FIRST_BATCH = 4;

export interface IconRunnerOptions {
  queue: IconQueue;
  cache: IconCache;
  /** The direction (D floats) a job visualises, e.g. its cell's mean activation. */
  direction(job: IconJob): Float32Array;
  /** The cache key of a job's icon (see iconCacheKey). */
  key(job: IconJob, direction: Float32Array): string;
  /** Icons for k directions (k x D), e.g. visualiseDirections with the signal passed through. */
  visualise(directions: Float32Array, signal: AbortSignal | undefined): Promise<{ images: Uint8ClampedArray[]; width: number; height: number; scores: Float32Array }>;
  onIcon?(job: IconJob, icon: CachedIcon, fromCache: boolean): void;
  onProgress?(levels: LevelProgress[]): void;
  /** A batch that failed for a reason other than cancellation; its jobs are marked failed. */
  onError?(jobs: IconJob[], error: unknown): void;
  /** Icons computed together at most (cache hits do not count). */
  batchSize?: number;

  signal?: AbortSignal;
}

/**
 * Works through the queue, highest priority first, until it is finished or paused: cached icons are served
 * at once, the rest are computed a batch at a time and cached. A zoom only needs queue.setViewport; the
 * next batch follows it. Cancelling (abort the signal) puts the running batch back in line and rejects
 * with an AbortError.
 */
export async function runIconQueue(options: IconRunnerOptions): Promise<void> {
  const { queue, cache, signal } = options;
  const largest = options.batchSize ?? 16;
  let batchSize = Math.min(largest, FIRST_BATCH);
  for (;; batchSize = Math.min(largest, batchSize * 2)) {
    if (signal?.aborted) throw abortError('Icon queue cancelled');
    const misses: { job: IconJob; direction: Float32Array; key: string }[] = [];
    while (misses.length < batchSize) {
      const jobs = queue.next(batchSize - misses.length);
      if (jobs.length === 0) break;
      for (const job of jobs) {
        const direction = options.direction(job);
        const key = options.key(job, direction);
        const icon = await cache.get(key);
        if (icon) {
          queue.complete(job.key);
          options.onIcon?.(job, icon, true);
        } else misses.push({ job, direction, key });
      }
    }
    if (misses.length === 0) {
      options.onProgress?.(queue.progress());
      return;
    }
    const dim = misses[0].direction.length;
    const directions = new Float32Array(misses.length * dim);
    misses.forEach((m, i) => directions.set(m.direction, i * dim));
    try {
      const result = await options.visualise(directions, signal);
      for (let i = 0; i < misses.length; i++) {
        const icon: CachedIcon = { width: result.width, height: result.height, rgba: result.images[i], score: result.scores[i] };
        await cache.put(misses[i].key, icon);
        queue.complete(misses[i].job.key);
        options.onIcon?.(misses[i].job, icon, false);
      }
    } catch (e) {
      if (isAbortError(e) || signal?.aborted) {
        queue.release(misses.map((m) => m.job.key));
        throw e;
      }
      for (const m of misses) queue.fail(m.job.key);
      options.onError?.(misses.map((m) => m.job), e);
    }
    options.onProgress?.(queue.progress());
  }
}
