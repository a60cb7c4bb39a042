import type { PositionSampling } from '../compute/atlas';
import { StreamRecorder, type StreamOptions } from '../compute/stream/recorder';
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

/** How a caller shapes a recording's stream beyond the user's parameters: the sample's size, a sink for every row, the recorder itself. */
export interface StreamHooks extends Pick<StreamOptions, 'sampleRows' | 'maxValues' | 'covariance' | 'onRow'> {
  /** Receives the recorder when the pass is over, with the ordinals of the inputs it recorded (a shard writes both). */
  onRecorded?: (recorder: StreamRecorder, ordinals: readonly number[]) => void;
}

/**
 * The one stream a recording feeds, set up from the caller's hooks and the recording's parameters: both
 * recorders and a shard with no inputs open it alike, so every shard of a run is configured the same way.
 * `ordinals` holds each input's ordinal (filled as inputs are read); `finish` hands the recorder to
 * `onRecorded` and returns the sample and the units.
 */
export function openRecordingStream(
  layer: LayerInfo,
  hooks: StreamHooks | undefined,
  options: { seed: number; unitTopK?: number; keyed?: boolean; ordinals: number[] },
) {
  const { onRecorded, ...streamOptions } = hooks ?? {};
  const { seed, unitTopK, keyed, ordinals } = options;
  const stream = new StreamRecorder(layer, { ...streamOptions, seed, unitTopK, keyed, ordinalOf: (input) => ordinals[input] });
  return {
    stream,
    finish(notices: string[]) {
      onRecorded?.(stream, ordinals);
      return stream.finish(notices, ordinals);
    },
  };
}

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
