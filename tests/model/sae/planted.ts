import { createRng, gaussian } from '../../../src/lib/rng';

/** Rows made as sparse non-negative combinations of known unit directions in superposition. */
export interface Planted {
  /** [directions, width] unit rows. */
  directions: Float32Array;
  /** [rows, width]. */
  rows: Float32Array;
  width: number;
  count: number;
}

/**
 * `directions` random unit directions in `width` dimensions; each row sums `active` distinct ones chosen
 * uniformly, each with a coefficient uniform in [0.5, 1.5).
 */
export function plantedRows(options: { directions: number; width: number; active: number; rows: number; seed: number }): Planted {
  const { width } = options;
  const random = createRng(options.seed);
  const directions = new Float32Array(options.directions * width);
  for (let d = 0; d < options.directions; d++) {
    const v = Array.from({ length: width }, () => gaussian(random));
    const norm = Math.sqrt(v.reduce((s, x) => s + x * x, 0));
    for (let j = 0; j < width; j++) directions[d * width + j] = v[j] / norm;
  }
  const rows = new Float32Array(options.rows * width);
  const chosen = new Set<number>();
  for (let r = 0; r < options.rows; r++) {
    chosen.clear();
    while (chosen.size < options.active) chosen.add(Math.floor(random() * options.directions));
    for (const d of chosen) {
      const c = 0.5 + random();
      for (let j = 0; j < width; j++) rows[r * width + j] += c * directions[d * width + j];
    }
  }
  return { directions, rows, width, count: options.rows };
}

/** For each true direction, the best cosine with any of `candidates` ([n, width] rows, any norm); `absolute` counts -v as v. */
export function bestCosines(directions: Float32Array, candidates: Float32Array, width: number, absolute = false): Float64Array {
  const n = candidates.length / width;
  const norms = Float64Array.from({ length: n }, (_, i) => Math.sqrt(candidates.subarray(i * width, (i + 1) * width).reduce((s, x) => s + x * x, 0)) || 1);
  return Float64Array.from({ length: directions.length / width }, (_, d) => {
    let best = -Infinity;
    for (let i = 0; i < n; i++) {
      let dot = 0;
      for (let j = 0; j < width; j++) dot += directions[d * width + j] * candidates[i * width + j];
      const cosine = dot / norms[i];
      best = Math.max(best, absolute ? Math.abs(cosine) : cosine);
    }
    return best;
  });
}

export const median = (values: ArrayLike<number>): number => {
  const sorted = Float64Array.from(values).sort();
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};
