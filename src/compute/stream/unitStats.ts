/** Histogram bins per decade of |value|, and the decades covered: [1e-6, 1e6). */
const BINS_PER_DECADE = 4;
const LOWEST_DECADE = -6;
const DECADES = 12;
const SIDE = BINS_PER_DECADE * DECADES;
/** Bins per unit: SIDE negative (most negative first), one for |v| < 1e-6, SIDE positive. */
export const HISTOGRAM_BINS = 2 * SIDE + 1;

/** Running statistics of every unit as plain columns: sums in float64, so shards add up. */
export interface UnitStatsState {
  units: number;
  /** Finite values seen per unit. */
  count: Float64Array;
  sum: Float64Array;
  sumSquares: Float64Array;
  min: Float64Array;
  max: Float64Array;
  /** units x HISTOGRAM_BINS counts on a signed log scale (see `histogramBin`). */
  histogram: Uint32Array;
}

/** A unit's statistics as an atlas shows them. */
export interface UnitSummaryStats {
  count: number;
  mean: number;
  std: number;
  min: number;
  max: number;
}

/**
 * The bin of a value: bins are a quarter of a decade of |v| wide from 1e-6 to 1e6 on each side of zero
 * (values beyond fall in the outermost bin), so histograms of any two shards add bin by bin.
 */
export function histogramBin(v: number): number {
  const a = Math.abs(v);
  if (a < EDGES[0]) return SIDE;
  // The last edge at or below |v|, by binary search over the SIDE edges (cheaper than a logarithm per value).
  let lo = 0;
  let hi = SIDE - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (EDGES[mid] <= a) lo = mid;
    else hi = mid - 1;
  }
  return v > 0 ? SIDE + 1 + lo : SIDE - 1 - lo;
}

/** The lower edge of each magnitude bin: 10^(LOWEST_DECADE + b / BINS_PER_DECADE). */
const EDGES = Float64Array.from({ length: SIDE }, (_, b) => 10 ** (LOWEST_DECADE + b / BINS_PER_DECADE));

/** The value range of bin `bin`: [low, high) above zero, (low, high] below (±Infinity at the open ends). */
export function histogramRange(bin: number): [number, number] {
  if (bin === SIDE) return [-(10 ** LOWEST_DECADE), 10 ** LOWEST_DECADE];
  const edge = (b: number) => (b < SIDE ? EDGES[b] : 10 ** (LOWEST_DECADE + b / BINS_PER_DECADE));
  if (bin > SIDE) {
    const b = bin - SIDE - 1;
    return [edge(b), b === SIDE - 1 ? Infinity : edge(b + 1)];
  }
  const b = SIDE - 1 - bin;
  return [b === SIDE - 1 ? -Infinity : -edge(b + 1), -edge(b)];
}

/** Count, mean, variance, min, max and a histogram of every unit over a stream; NaN and infinite values are skipped. */
export class UnitStats {
  readonly state: UnitStatsState;

  constructor(units: number) {
    this.state = {
      units,
      count: new Float64Array(units),
      sum: new Float64Array(units),
      sumSquares: new Float64Array(units),
      min: new Float64Array(units).fill(Infinity),
      max: new Float64Array(units).fill(-Infinity),
      histogram: new Uint32Array(units * HISTOGRAM_BINS),
    };
  }

  addRow(data: Float32Array, offset: number): void {
    const { units, count, sum, sumSquares, min, max, histogram } = this.state;
    for (let u = 0; u < units; u++) {
      const v = data[offset + u];
      if (!Number.isFinite(v)) continue;
      count[u]++;
      sum[u] += v;
      sumSquares[u] += v * v;
      if (v < min[u]) min[u] = v;
      if (v > max[u]) max[u] = v;
      histogram[u * HISTOGRAM_BINS + histogramBin(v)]++;
    }
  }

  merge(other: UnitStatsState): void {
    const s = this.state;
    if (other.units !== s.units) throw new RangeError(`Cannot merge the statistics of ${other.units} units into ${s.units}.`);
    for (let u = 0; u < s.units; u++) {
      s.count[u] += other.count[u];
      s.sum[u] += other.sum[u];
      s.sumSquares[u] += other.sumSquares[u];
      s.min[u] = Math.min(s.min[u], other.min[u]);
      s.max[u] = Math.max(s.max[u], other.max[u]);
    }
    for (let k = 0; k < s.histogram.length; k++) s.histogram[k] += other.histogram[k];
  }

  /** Unit u's statistics; the standard deviation is the sample's (n - 1). */
  summary(u: number): UnitSummaryStats {
    const { count, sum, sumSquares, min, max } = this.state;
    const n = count[u];
    if (n === 0) return { count: 0, mean: 0, std: 0, min: 0, max: 0 };
    const mean = sum[u] / n;
    const variance = n > 1 ? Math.max(0, (sumSquares[u] - n * mean * mean) / (n - 1)) : 0;
    return { count: n, mean, std: Math.sqrt(variance), min: min[u], max: max[u] };
  }
}
