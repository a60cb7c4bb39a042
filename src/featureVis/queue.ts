/**
 * Which atlas cell gets its feature-visualisation icon next: pure bookkeeping, no TF. Visible cells of the
 * level on screen come first (nearest the view's centre first), then the cells of the neighbouring levels
 * under the same view (finer first, since zooming in shows them next), then the rest.
 */

/** One icon to compute: cell (i, j) of the g x g level. */
export interface IconJob {
  key: string;
  gridSize: number;
  i: number;
  j: number;
}

export interface LevelProgress {
  gridSize: number;
  done: number;
  failed: number;
  total: number;
}

/** The cells on screen: those of the level being shown. */
export interface Viewport {
  gridSize: number;
  cells: ReadonlyArray<readonly [number, number]>;
}

type JobState = 'pending' | 'running' | 'done' | 'failed';

interface Entry {
  job: IconJob;
  state: JobState;
  /** Row-order index, the last tie-breaker. */
  order: number;
}

/** The cache and atlas key of a cell's icon, as Atlas.icons uses it. */
export const iconKey = (gridSize: number, i: number, j: number): string => `${gridSize}:${i}:${j}`;

/** A priority queue of icon jobs for every cell of every grid level. */
export class IconQueue {
  private readonly entries = new Map<string, Entry>();
  private ranked: Entry[] = [];
  private cursor = 0;
  private paused = false;

  constructor(levels: ReadonlyArray<{ size: number; cells: ReadonlyArray<{ i: number; j: number }> }>) {
    for (const level of levels) {
      for (const { i, j } of level.cells) {
        const key = iconKey(level.size, i, j);
        this.entries.set(key, { job: { key, gridSize: level.size, i, j }, state: 'pending', order: this.entries.size });
      }
    }
    this.setViewport(null);
  }

  /** Reorders the pending work for what is on screen now (null: coarsest level first, in row order). */
  setViewport(view: Viewport | null): void {
    const rank = new Map<Entry, number[]>();
    const region = view && view.cells.length ? regionOf(view) : null;
    for (const entry of this.entries.values()) {
      const { gridSize, i, j } = entry.job;
      if (!view || !region) {
        rank.set(entry, [0, gridSize, entry.order]);
        continue;
      }
      const [x0, y0, x1, y1] = [i / gridSize, j / gridSize, (i + 1) / gridSize, (j + 1) / gridSize];
      const distance = Math.hypot((x0 + x1) / 2 - region.cx, (y0 + y1) / 2 - region.cy);
      const inView = x1 > region.x0 && x0 < region.x1 && y1 > region.y0 && y0 < region.y1;
      const sameLevel = gridSize === view.gridSize;
      const visible = sameLevel && region.keys.has(`${i}:${j}`);
      // Level distance in zoom steps; finer levels (zooming in) just ahead of coarser at the same distance.
      const levelGap = Math.abs(Math.log2(gridSize / view.gridSize)) + (gridSize < view.gridSize ? 0.5 : 0);
      const tier = visible ? 0 : inView && !sameLevel ? 1 : sameLevel ? 2 : 3;
      rank.set(entry, [tier, tier === 1 || tier === 3 ? levelGap : 0, distance, entry.order]);
    }
    this.ranked = [...this.entries.values()].sort((a, b) => compareTuples(rank.get(a)!, rank.get(b)!));
    this.cursor = 0;
  }

  /** Up to `max` pending jobs, best first, now marked running; none while paused. */
  next(max: number): IconJob[] {
    const out: IconJob[] = [];
    if (this.paused) return out;
    for (let k = this.cursor; k < this.ranked.length && out.length < max; k++) {
      const entry = this.ranked[k];
      if (entry.state !== 'pending') {
        if (k === this.cursor) this.cursor++;
        continue;
      }
      entry.state = 'running';
      out.push(entry.job);
    }
    return out;
  }

  /** The pending jobs, best first, left pending (e.g. to look them up in a cache before computing any). */
  pending(): IconJob[] {
    return this.ranked.filter((e) => e.state === 'pending').map((e) => e.job);
  }

  /** Marks a job done (computed or read from the cache). */
  complete(key: string): void {
    this.set(key, 'done');
  }

  /** Marks a job failed; it is not retried. */
  fail(key: string): void {
    this.set(key, 'failed');
  }

  /** Puts running jobs back in line (their batch was cancelled before finishing). */
  release(keys: readonly string[]): void {
    for (const key of keys) {
      const entry = this.entries.get(key);
      if (entry?.state === 'running') entry.state = 'pending';
    }
    this.cursor = 0;
  }

  /** Stops handing out work and returns the running jobs, for the caller to abort and release. */
  cancel(): string[] {
    this.paused = true;
    return [...this.entries.values()].filter((e) => e.state === 'running').map((e) => e.job.key);
  }

  /** Hands out work again after cancel(). */
  resume(): void {
    this.paused = false;
    this.cursor = 0;
  }

  get isPaused(): boolean {
    return this.paused;
  }

  /** True when nothing is pending or running. */
  get finished(): boolean {
    for (const entry of this.entries.values()) if (entry.state === 'pending' || entry.state === 'running') return false;
    return true;
  }

  state(key: string): JobState | undefined {
    return this.entries.get(key)?.state;
  }

  /** Done, failed and total jobs per grid level, coarsest first. */
  progress(): LevelProgress[] {
    const levels = new Map<number, LevelProgress>();
    for (const { job, state } of this.entries.values()) {
      let p = levels.get(job.gridSize);
      if (!p) levels.set(job.gridSize, (p = { gridSize: job.gridSize, done: 0, failed: 0, total: 0 }));
      p.total++;
      if (state === 'done') p.done++;
      if (state === 'failed') p.failed++;
    }
    return [...levels.values()].sort((a, b) => a.gridSize - b.gridSize);
  }

  private set(key: string, state: JobState): void {
    const entry = this.entries.get(key);
    if (!entry) throw new Error(`no icon job ${key}`);
    entry.state = state;
  }
}

/** The viewport's cells as a box in normalised [0, 1] layout coordinates, and its centre. */
function regionOf(view: Viewport) {
  const g = view.gridSize;
  let [x0, y0, x1, y1] = [Infinity, Infinity, -Infinity, -Infinity];
  const keys = new Set<string>();
  for (const [i, j] of view.cells) {
    keys.add(`${i}:${j}`);
    x0 = Math.min(x0, i / g);
    y0 = Math.min(y0, j / g);
    x1 = Math.max(x1, (i + 1) / g);
    y1 = Math.max(y1, (j + 1) / g);
  }
  return { x0, y0, x1, y1, cx: (x0 + x1) / 2, cy: (y0 + y1) / 2, keys };
}

function compareTuples(a: number[], b: number[]): number {
  for (let k = 0; k < a.length; k++) if (a[k] !== b[k]) return a[k] - b[k];
  return 0;
}
