import type { ActivationTable } from '../types';
import { LayerMoments, type LayerMomentsState } from './layerMoments';
import { RowSample, type RowSampleState } from './rowSample';
import { UnitStats, type UnitStatsState } from './unitStats';
import { UnitTopK, type UnitTopKState } from './unitTopK';

/** The layer a stream records: its name, its output shape (channels last) and the shape of its positions. */
export interface StreamLayer {
  name: string;
  shape: number[];
  positionShape: number[];
}

export const DEFAULT_MAX_VALUES = 64 * 1024 * 1024; // 256 MB of float32
/** Top rows kept per unit unless asked. */
export const DEFAULT_UNIT_TOP_K = 16;
/** Above this width the layer's covariance (dim^2 x 8 bytes, dim^2 / 2 multiply-adds a row) is not accumulated unless asked. */
export const COVARIANCE_MAX_DIM = 1024;

export interface StreamOptions {
  seed: number;
  /** Rows kept for the layout; default: as many as `maxValues` holds. */
  sampleRows?: number;
  /** Most float32 values the sample may hold. */
  maxValues?: number;
  /** Top rows kept per unit. */
  unitTopK?: number;
  /** Accumulate the layer's covariance; default: for layers up to COVARIANCE_MAX_DIM wide. */
  covariance?: boolean;
  /** The ordinal of an input (its place among all the recording's inputs); default: its index. */
  ordinalOf?: (input: number) => number;
  /** Rows carry a key that cells summarise (text: the recorded token's id). */
  keyed?: boolean;
  /** Receives every row as it is recorded, e.g. to stream it to a file. */
  onRow?: (input: number, position: number, data: Float32Array, offset: number, dim: number) => void;
}

/** Everything a stream keeps, as plain columns: what a shard stores and a merge reads. */
export interface StreamState {
  layer: StreamLayer;
  seed: number;
  /** Rows recorded. */
  rows: number;
  sample: RowSampleState;
  top: UnitTopKState;
  stats: UnitStatsState;
  moments: LayerMomentsState | null;
}

/** A unit's top row in an atlas: [input, position, value]. */
export type UnitTopRow = [number, number, number];

/** Every unit's statistics and top rows over every recorded row (not only the sample), as an atlas carries them. */
export interface UnitSummary {
  /** Rows the statistics and rankings cover. */
  rows: number;
  count: number[];
  mean: number[];
  std: number[];
  min: number[];
  max: number[];
  /** Per unit, best first: the input, the position (-1: pooled) and the value. */
  top: UnitTopRow[][];
}

const SAMPLE_NOTICE = /^Recorded [\d,]+ activations; the layout shows a seeded sample/;
/** Whether a notice is the one `finish` writes about the sample (a shard's is replaced by the merge's). */
export const isSampleNotice = (notice: string): boolean => SAMPLE_NOTICE.test(notice);

/** Seven significant digits: float64 sums of the same rows added in another order agree to far more than that. */
const rounded = (v: number) => Number(v.toPrecision(7));

/**
 * One streaming pass over a layer's rows in memory bounded by a budget, not by the number of rows: a seeded
 * sample for the layout (the same rows for any batch size or number of shards), every unit's exact top rows,
 * running statistics and (for layers up to 1,024 wide) the layer's mean and covariance in float64. Two streams
 * with the same layer and seed merge exactly; the page's recorder, the CLI's and the precomputed-activations
 * reader all feed one.
 */
export class StreamRecorder {
  private readonly sample: RowSample;
  private readonly top: UnitTopK;
  private readonly stats: UnitStats;
  private readonly moments: LayerMoments | null;
  private rows = 0;

  constructor(
    readonly layer: StreamLayer,
    private readonly options: StreamOptions,
  ) {
    const dim = this.dim;
    const capacity = Math.max(1, options.sampleRows ?? Math.floor((options.maxValues ?? DEFAULT_MAX_VALUES) / dim));
    this.sample = new RowSample(dim, capacity, options.seed);
    this.top = new UnitTopK(dim, options.unitTopK ?? DEFAULT_UNIT_TOP_K);
    this.stats = new UnitStats(dim);
    this.moments = options.covariance ?? dim <= COVARIANCE_MAX_DIM ? new LayerMoments(dim) : null;
  }

  get dim(): number {
    return this.layer.shape[this.layer.shape.length - 1];
  }

  /** Rows recorded so far. */
  get recorded(): number {
    return this.rows;
  }

  /** Records one row of input `input` at `position` (-1: pooled): `dim` values of `data` from `offset`; `tag` is its key (text: the token id). */
  add(input: number, position: number, data: Float32Array, offset: number, tag = 0): void {
    const ordinal = this.options.ordinalOf ? this.options.ordinalOf(input) : input;
    this.rows++;
    this.sample.offer(ordinal, position, tag, data, offset);
    this.top.addRow(ordinal, position, data, offset);
    this.stats.addRow(data, offset);
    this.moments?.addRow(data, offset);
    this.options.onRow?.(input, position, data, offset, this.dim);
  }

  /** Adds another stream's state (a shard of the same layer, seed and budget). */
  merge(other: StreamState): void {
    if (other.layer.name !== this.layer.name || other.sample.dim !== this.dim) {
      throw new RangeError(`Cannot merge a recording of ${other.layer.name} (${other.sample.dim}-d) into one of ${this.layer.name} (${this.dim}-d).`);
    }
    if (other.seed !== this.options.seed) throw new RangeError(`Cannot merge a sample drawn with seed ${other.seed} into one drawn with seed ${this.options.seed}.`);
    this.rows += other.rows;
    this.sample.merge(other.sample);
    this.top.merge(other.top);
    this.stats.merge(other.stats);
    if (this.moments && other.moments) this.moments.merge(other.moments);
  }

  get state(): StreamState {
    return {
      layer: this.layer,
      seed: this.options.seed,
      rows: this.rows,
      sample: this.sample.state,
      top: this.top.state,
      stats: this.stats.state,
      moments: this.moments?.state ?? null,
    };
  }

  /**
   * The sample as a table in (input, position) order, and every unit's summary. `inputOrdinals` lists the
   * ordinals of the atlas's inputs in ascending order (a row's input becomes its index there); without it the
   * ordinals are the input indices. A notice says when the sample is smaller than the recording.
   */
  finish(notices: string[], inputOrdinals?: ArrayLike<number>): { table: ActivationTable; units: UnitSummary } {
    const indexOf = inputOrdinals ? ordinalIndex(inputOrdinals) : (ordinal: number) => ordinal;
    const { dim } = this;
    const s = this.sample.state;
    const order = this.sample.order();
    const values = new Float32Array(order.length * dim);
    const input = new Uint32Array(order.length);
    const position = new Int32Array(order.length);
    const key = new Int32Array(order.length);
    order.forEach((slot, r) => {
      values.set(s.values.subarray(slot * dim, (slot + 1) * dim), r * dim);
      input[r] = indexOf(s.ordinal[slot]);
      position[r] = s.position[slot];
      key[r] = s.tag[slot];
    });
    if (this.rows > order.length) {
      notices.push(
        `Recorded ${this.rows.toLocaleString('en')} activations; the layout shows a seeded sample of ${order.length.toLocaleString('en')}, ` +
          `and every unit's statistics and top inputs cover all of them.`,
      );
    }
    const table: ActivationTable = {
      layer: this.layer.name,
      dim,
      count: order.length,
      values,
      input,
      position,
      positionShape: this.layer.positionShape,
      totalBeforeSampling: this.rows,
      ...(this.options.keyed ? { key } : {}),
    };
    return { table, units: this.unitSummary(indexOf) };
  }

  private unitSummary(indexOf: (ordinal: number) => number): UnitSummary {
    const units: UnitSummary = { rows: this.rows, count: [], mean: [], std: [], min: [], max: [], top: [] };
    for (let u = 0; u < this.dim; u++) {
      const stats = this.stats.summary(u);
      units.count.push(stats.count);
      units.mean.push(rounded(stats.mean));
      units.std.push(rounded(stats.std));
      units.min.push(stats.min);
      units.max.push(stats.max);
      units.top.push(this.top.rows(u).map((row): UnitTopRow => [indexOf(row.ordinal), row.position, row.value]));
    }
    return units;
  }
}

/** The index of each ordinal in an ascending list of them (binary search). */
function ordinalIndex(ordinals: ArrayLike<number>): (ordinal: number) => number {
  return (ordinal) => {
    let lo = 0;
    let hi = ordinals.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (ordinals[mid] === ordinal) return mid;
      if (ordinals[mid] < ordinal) lo = mid + 1;
      else hi = mid - 1;
    }
    throw new RangeError(`No input has ordinal ${ordinal}: the recording's inputs and its rows disagree.`);
  };
}
