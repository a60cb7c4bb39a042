import type { PositionSampling } from '../compute/atlas';
import type { ActivationTable } from '../compute/types';
import { createRng } from '../lib/rng';

/** A recordable layer of any modality. */
export interface LayerInfo {
  name: string;
  /** Output shape without the batch dimension: positions first, channels last. */
  shape: number[];
  /** The positions a point can be recorded at: [H, W] for a feature map, [T] for a sequence, [] for a vector. */
  positionShape: number[];
}

/** The model cannot be used as asked (a layer that cannot be recorded, a wrong input shape...). */
export class ModelUseError extends Error {
  override name = 'ModelUseError';
}

export const DEFAULT_MAX_VALUES = 64 * 1024 * 1024; // 256 MB of float32

const positionCount = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

/**
 * Positions to sample in one input, as flat row-major indices into `positionShape`: every position, or k
 * seeded ones away from the border along each axis of at least 3 (as in the Activation Atlas).
 */
export function samplePositions(positionShape: readonly number[], samples: 'all' | number, seed: number): number[] {
  const total = positionCount(positionShape);
  if (samples === 'all') return Array.from({ length: total }, (_, p) => p);
  const candidates: number[] = [];
  for (let p = 0; p < total; p++) {
    let rest = p;
    let inside = true;
    for (let axis = positionShape.length - 1; axis >= 0; axis--) {
      const n = positionShape[axis];
      const c = rest % n;
      rest = Math.floor(rest / n);
      if (n >= 3 && (c === 0 || c === n - 1)) inside = false;
    }
    if (inside) candidates.push(p);
  }
  const random = createRng(seed);
  const k = Math.min(samples, candidates.length);
  for (let i = 0; i < k; i++) {
    const j = i + Math.floor(random() * (candidates.length - i));
    [candidates[i], candidates[j]] = [candidates[j], candidates[i]];
  }
  return candidates.slice(0, k);
}

/** Seeded choice of `keep` row ids out of `total`, as a mask. */
function sampleRows(total: number, keep: number, seed: number): Uint8Array {
  const mask = new Uint8Array(total);
  if (keep >= total) return mask.fill(1);
  const ids = new Uint32Array(total);
  for (let i = 0; i < total; i++) ids[i] = i;
  const random = createRng(seed ^ 0x9e3779b9);
  for (let i = 0; i < keep; i++) {
    const j = i + Math.floor(random() * (total - i));
    const t = ids[i];
    ids[i] = ids[j];
    ids[j] = t;
    mask[ids[i]] = 1;
  }
  return mask;
}

/** Checks the sampling a user asked for against a layer: 'pooled' where the layer has no positions, with a notice. */
export function resolveSampling(layer: LayerInfo, asked: PositionSampling, notices: string[]): PositionSampling {
  if (typeof asked === 'number' && (!Number.isInteger(asked) || asked < 1)) {
    throw new ModelUseError(`Samples per input must be a positive whole number, "pooled" or "all"; got ${asked}.`);
  }
  if (asked !== 'pooled' && layer.positionShape.length === 0) {
    notices.push(`Layer "${layer.name}" has no positions (shape ${JSON.stringify(layer.shape)}); recorded one pooled vector per input.`);
    return 'pooled';
  }
  return asked;
}

/**
 * The activation table of one recording, filled input by input; past the memory budget a seeded sample
 * of rows is kept, and `finish` says so with both counts. Modality-free: positions are flat indices.
 */
export class TableWriter {
  private readonly values: Float32Array;
  private readonly input: Uint32Array;
  private readonly position: Int32Array;
  private readonly keepMask: Uint8Array;
  private rows = 0;
  private recorded = 0;

  constructor(
    private readonly layer: LayerInfo,
    /** Rows the whole recording would give; the budget's sample is drawn over these row ids. */
    expectedRows: number,
    options: { maxValues?: number; seed: number },
  ) {
    const dim = this.dim;
    const maxRows = Math.max(1, Math.floor((options.maxValues ?? DEFAULT_MAX_VALUES) / dim));
    this.keepMask = sampleRows(expectedRows, maxRows, options.seed);
    const capacity = Math.min(expectedRows, maxRows);
    this.values = new Float32Array(capacity * dim);
    this.input = new Uint32Array(capacity);
    this.position = new Int32Array(capacity);
  }

  get dim(): number {
    return this.layer.shape[this.layer.shape.length - 1];
  }

  /** Offers row `rowId` (of the expected rows) for input `inputIndex` at `position`; copies `dim` values from `data` at `offset` if kept. */
  add(rowId: number, inputIndex: number, position: number, data: Float32Array, offset: number): void {
    this.recorded++;
    if (!this.keepMask[rowId]) return;
    const dim = this.dim;
    this.values.set(data.subarray(offset, offset + dim), this.rows * dim);
    this.input[this.rows] = inputIndex;
    this.position[this.rows] = position;
    this.rows++;
  }

  /** The table, and a notice when the budget dropped rows. */
  finish(notices: string[]): ActivationTable {
    const { rows, dim } = this;
    if (this.recorded > rows) {
      notices.push(
        `Recorded ${this.recorded.toLocaleString('en')} activations; kept a seeded sample of ${rows.toLocaleString('en')} to stay within the memory budget.`,
      );
    }
    return {
      layer: this.layer.name,
      dim,
      count: rows,
      values: this.values.slice(0, rows * dim),
      input: this.input.slice(0, rows),
      position: this.position.slice(0, rows),
      positionShape: this.layer.positionShape,
      totalBeforeSampling: this.recorded,
    };
  }
}
