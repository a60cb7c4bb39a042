import type { AtlasCell } from '../compute/types';
import type { Atlas } from '../compute/atlas';
import { iconCacheKey, openIconCache, type CachedIcon, type IconCache } from '../featureVis/cache';
import { IconQueue, type LevelProgress } from '../featureVis/queue';
import { runIconQueue } from '../featureVis/runner';
import { isAbortError } from '../lib/abort';
import type { AtlasPipeline } from './pipeline';

/** One icon cache per page: IndexedDB where the browser has it, so a reload shows computed icons at once. */
let sharedCache: Promise<IconCache> | null = null;
const iconCache = () => (sharedCache ??= openIconCache({ name: 'atlas-feature-vis' }));

/** A finished icon as a canvas, ready to draw into the level textures and the PNG export. */
export function iconCanvas(icon: CachedIcon): HTMLCanvasElement {
  const canvas = document.createElement('canvas');
  canvas.width = icon.width;
  canvas.height = icon.height;
  const rgba = new Uint8ClampedArray(icon.rgba.buffer as ArrayBuffer, icon.rgba.byteOffset, icon.rgba.byteLength);
  canvas.getContext('2d')!.putImageData(new ImageData(rgba, icon.width, icon.height), 0, 0);
  return canvas;
}

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

  constructor(
    private readonly pipeline: AtlasPipeline,
    private readonly atlas: Atlas,
    private readonly fingerprint: string,
    private readonly iconSettings: string,
    private readonly callbacks: FeatureVisCallbacks,
  ) {
    this.queue = new IconQueue(atlas.levels);
    for (const level of atlas.levels) for (const c of level.cells) this.cells.set(`${level.size}:${c.i}:${c.j}`, c);
  }

  /** Starts working; resolves when every icon is done, the model cannot do it, or `stop` was called. */
  async run(): Promise<void> {
    const { signal } = this.abort;
    try {
      const support = await this.pipeline.featureVisSupport();
      if (!support.backend) {
        this.callbacks.onFinished('unavailable', support.message);
        return;
      }
      const cache = await iconCache();
      const layer = this.atlas.layer.name;
      await runIconQueue({
        queue: this.queue,
        cache,
        batchSize: 16,
        signal,
        direction: (job) => this.cells.get(job.key)!.mean,
        key: (_, direction) => iconCacheKey({ model: this.fingerprint, layer, direction, settings: this.iconSettings }),
        visualise: (directions, s) => this.pipeline.visualise({ directions }, s),
        onIcon: (job, icon) => this.callbacks.onIcon(job.key, job.gridSize, iconCanvas(icon)),
        onProgress: (levels) => this.callbacks.onProgress(levels),
        onError: (jobs, e) => console.warn(`Feature visualisation failed for ${jobs.length} cells:`, e),
      });
      this.callbacks.onFinished('done', support.message);
    } catch (e) {
      if (isAbortError(e) || signal.aborted) return;
      this.callbacks.onFinished('failed', `Feature visualisation stopped: ${(e as Error).message}`);
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
