import type { AtlasCell } from '../compute/types';
import type { Atlas } from '../compute/atlas';
import { iconCacheKey, openIconCache, settingsKey, type CachedIcon, type IconCache } from '../featureVis/cache';
import { IconQueue, type IconJob, type LevelProgress } from '../featureVis/queue';
import { iconRecipe, type IconQuality } from '../featureVis/recipe';
import { runIconQueue } from '../featureVis/runner';
import { iconCanvas } from '../atlas/iconCanvas';
import { isAbortError } from '../lib/abort';
import type { AtlasPipeline } from './pipeline';

/** Cached icons read per IndexedDB transaction when an atlas is shown. */
const CACHE_READS_PER_TRANSACTION = 64;

/**
 * One icon cache per page: IndexedDB where the browser has it, so a reload shows computed icons at once.
 * Opened when the page loads, while the first atlas is built: once it is shown, the main thread is busy
 * drawing it for a second or more, and an open then would wait for that before the first read.
 */
const sharedCache: Promise<IconCache> = openIconCache({ name: 'atlas-feature-vis' });

/** Pixels of the most recently used icons read into memory when the page loads (about 450 icons of 96 x 96). */
const WARM_ICON_BYTES = 16 * 2 ** 20;
/**
 * After a reload, the icons shown last are those most likely wanted first: they are read while the first
 * atlas builds, and the first atlas shown takes them (later ones find them in the cache as usual).
 */
let warmIcons: Promise<Map<string, CachedIcon>> | null = sharedCache.then((cache) => cache.recent(WARM_ICON_BYTES)).catch(() => new Map());
const takeWarmIcons = (): Promise<Map<string, CachedIcon>> => {
  const warm = warmIcons ?? Promise.resolve(new Map<string, CachedIcon>());
  warmIcons = null;
  return warm;
};

export interface FeatureVisCallbacks {
  onIcon(key: string, gridSize: number, icon: HTMLCanvasElement): void;
  onProgress(levels: LevelProgress[]): void;
  onFinished(status: 'done' | 'unavailable' | 'failed', message: string | null): void;
}

/**
 * The feature-visualisation icons of one built atlas: a queue over every cell of every level that the
 * model worker works through in batches, the cells on screen first, cached by model, layer and direction.
 */
export class FeatureVisJobs {
  private readonly abort = new AbortController();
  private readonly queue: IconQueue;
  private readonly cells = new Map<string, AtlasCell>();
  /** What shapes an icon besides its model, layer and direction: the recording's settings and the recipe, in every cache key. */
  private readonly settings: string;

  constructor(
    private readonly pipeline: AtlasPipeline,
    private readonly atlas: Atlas,
    private readonly fingerprint: string,
    iconSettings: string,
    private readonly quality: IconQuality,
    private readonly callbacks: FeatureVisCallbacks,
  ) {
    // The recipe before it is fitted to a model's input size (the model's fingerprint holds that size).
    this.settings = settingsKey({ recording: iconSettings, recipe: iconRecipe(quality, Infinity) });
    this.queue = new IconQueue(atlas.levels);
    for (const level of atlas.levels) for (const c of level.cells) this.cells.set(`${level.size}:${c.i}:${c.j}`, c);
  }

  /**
   * Starts working; resolves when every icon is done, the model cannot do it, or `stop` was called. The
   * cached icons are shown first, while the model worker probes where gradients run: nothing computed
   * waits on the probe, and a reload shows what was computed before at once.
   */
  async run(): Promise<void> {
    const { signal } = this.abort;
    // How many icons there are to make, at once: the probe and the first batch take seconds (20 s on Tiny VGG here).
    this.callbacks.onProgress(this.queue.progress());
    const support = this.pipeline.featureVisSupport();
    support.catch(() => undefined); // awaited below, after the cache
    try {
      const cache = await sharedCache;
      const layer = this.atlas.layer.name;
      // Each key hashes the cell's direction; the warm pass, the cache reads and the compute loop all ask for it.
      const keys = new Map<string, string>();
      const key = (job: IconJob) => {
        let k = keys.get(job.key);
        if (k === undefined) {
          k = iconCacheKey({ model: this.fingerprint, layer, direction: this.cells.get(job.key)!.mean, settings: this.settings });
          keys.set(job.key, k);
        }
        return k;
      };
      const lookedUp = await this.showCached(cache, key, signal);
      const { backend, message } = await support;
      if (!backend) {
        this.callbacks.onFinished('unavailable', message);
        return;
      }
      await runIconQueue({
        queue: this.queue,
        cache: withoutMisses(cache, lookedUp),
        batchSize: 16,
        signal,
        direction: (job) => this.cells.get(job.key)!.mean,
        key,
        visualise: (directions, s) => this.pipeline.visualise({ directions, quality: this.quality }, s),
        onIcon: (job, icon) => this.callbacks.onIcon(job.key, job.gridSize, iconCanvas(icon)),
        onProgress: (levels) => this.callbacks.onProgress(levels),
        onError: (jobs, e) => console.warn(`Feature visualisation failed for ${jobs.length} cells:`, e),
      });
      this.callbacks.onFinished('done', message);
    } catch (e) {
      if (isAbortError(e) || signal.aborted) return;
      this.callbacks.onFinished('failed', `Feature visualisation stopped: ${(e as Error).message}`);
    }
  }

  /**
   * Shows every cached icon of the atlas, best first (following the viewport as it changes), many per
   * transaction; returns the cache keys that were not there (none known when the cache could not be read).
   */
  private async showCached(cache: IconCache, key: (job: IconJob) => string, signal: AbortSignal): Promise<Set<string>> {
    const misses = new Set<string>();
    const seen = new Set<string>();
    const show = (job: IconJob, icon: CachedIcon) => {
      if (this.queue.state(job.key) !== 'pending') return;
      this.queue.complete(job.key);
      this.callbacks.onIcon(job.key, job.gridSize, iconCanvas(icon));
    };
    const warm = await takeWarmIcons();
    if (warm.size) {
      for (const job of this.queue.pending()) {
        const icon = warm.get(key(job));
        if (!icon) continue;
        seen.add(job.key);
        show(job, icon);
      }
      this.callbacks.onProgress(this.queue.progress());
    }
    try {
      // One request for what the cache holds, then reads of those icons only: most cells of a new atlas are misses.
      const held = new Set(await cache.keys());
      for (;;) {
        signal.throwIfAborted();
        const jobs: IconJob[] = [];
        const keys: string[] = [];
        for (const job of this.queue.pending()) {
          if (jobs.length === CACHE_READS_PER_TRANSACTION) break;
          if (seen.has(job.key)) continue;
          seen.add(job.key);
          const k = key(job);
          if (held.has(k)) {
            jobs.push(job);
            keys.push(k);
          } else misses.add(k);
        }
        if (jobs.length === 0) return misses;
        const icons = await cache.getMany(keys);
        signal.throwIfAborted();
        jobs.forEach((job, k) => {
          const icon = icons[k];
          if (icon) show(job, icon);
          else misses.add(keys[k]);
        });
        this.callbacks.onProgress(this.queue.progress());
      }
    } catch (e) {
      if (isAbortError(e) || signal.aborted) throw e;
      // A cache that cannot be read does not stop the icons being computed (each is looked up again then).
      console.warn('The icon cache could not be read:', e);
      return new Set();
    }
  }

  /** Serves the cells on screen first (the level shown, nearest the view's centre first). */
  setViewport(gridSize: number, cells: ReadonlyArray<readonly [number, number]>): void {
    this.queue.setViewport({ gridSize, cells });
  }

  stop(): void {
    this.abort.abort();
  }
}

/** The cache as the compute loop sees it: keys just looked up and missing are misses without asking again. */
function withoutMisses(cache: IconCache, misses: ReadonlySet<string>): IconCache {
  return {
    kind: cache.kind,
    get: (key) => (misses.has(key) ? Promise.resolve(undefined) : cache.get(key)),
    getMany: (keys) => cache.getMany(keys),
    keys: () => cache.keys(),
    recent: (maxBytes) => cache.recent(maxBytes),
    put: (key, icon) => cache.put(key, icon),
    clear: () => cache.clear(),
    close: () => cache.close(),
  };
}
