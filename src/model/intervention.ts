/**
 * Interventions on one layer's activations at every position (issue 20), for any modality: a GPT-2's
 * [batch, tokens, width] and an image model's [batch, height, width, channels] are both changed along their last
 * axis, so steering and ablation share this maths.
 */
import * as tf from '@tensorflow/tfjs';
import { randomDirections, range, shuffle } from '../compute/directions/vectors';
import { createRng } from '../lib/rng';
import { ModelUseError } from './recordTable';

/**
 * A change to one layer's activations at every position during the forward (steering and ablation, issue 20):
 * `add` adds `vector` (α·v); `project-out` removes the component along the unit `direction` (x − (x·v)v), or with
 * `value` sets it to that value (x − (x·v − value)v: mean-ablation of a direction); `set-units` sets the listed units to
 * `values` (0 for zero-ablation, their mean for mean-ablation).
 */
export type Intervention =
  | { kind: 'add'; layer: string; vector: Float32Array }
  | { kind: 'project-out'; layer: string; direction: Float32Array; value?: number }
  | { kind: 'set-units'; layer: string; units: number[]; values: number[] };

/** Each position's component x·v along `direction` of a layer's value [..., width]: a tensor of the value's shape without its last axis. */
export function componentsAlong(value: tf.Tensor, direction: Float32Array): tf.Tensor {
  return tf.tidy(() => {
    const width = value.shape[value.rank - 1];
    return tf.matMul(value.reshape([-1, width]), tf.tensor2d(direction, [width, 1])).reshape(value.shape.slice(0, -1));
  });
}

/** `intervention` applied to a layer's value [..., width] at every position (the layer name is the caller's business). */
export function intervene<T extends tf.Tensor>(value: T, intervention: Intervention): T {
  return tf.tidy(() => {
    const width = value.shape[value.rank - 1];
    if (intervention.kind === 'add') return value.add(tf.tensor1d(intervention.vector)) as T;
    if (intervention.kind === 'project-out') {
      const v = tf.tensor1d(intervention.direction);
      const along = componentsAlong(value, intervention.direction);
      return value.sub((intervention.value ? along.sub(intervention.value) : along).expandDims(-1).mul(v)) as T;
    }
    const keep = new Float32Array(width).fill(1);
    const set = new Float32Array(width);
    intervention.units.forEach((u, i) => {
      keep[u] = 0;
      set[u] = intervention.values[i];
    });
    return value.mul(tf.tensor1d(keep)).add(tf.tensor1d(set)) as T;
  });
}

/**
 * How the random directions' vectors are sized: `alpha`, the same α in each one's own unit (α x the root mean square
 * of x·r, as the direction's vector is α x its own); `norm`, the same norm as the direction's vector.
 */
export type SteeringControls = 'alpha' | 'norm';

/** The vectors one steering test adds: the direction's, and its seeded random controls', with their sizes. */
export interface SteeringVectors {
  /** α x the direction's scale: the signed length of its vector. */
  strength: number;
  /** The direction's vector, then the random directions'. */
  vectors: Float32Array[];
  /** Norm of the direction's vector (|strength|). */
  norm: number;
  randomNorms: number[];
}

/**
 * α·scale(v)·v for the unit `direction`, and `random` seeded random unit directions r sized as `controls` says;
 * `scales` gives the layer's typical |x·u| for each unit u asked at once (the root mean square of x·u over the
 * held-in inputs), so that one pass over them serves every direction.
 */
export function steeringVectors(direction: Float32Array, alpha: number, random: number, seed: number, controls: SteeringControls, scales: (units: Float32Array[]) => number[]): SteeringVectors {
  const width = direction.length;
  const units = randomDirections(width, random, seed);
  const randomUnits = Array.from({ length: random }, (_, k) => units.subarray(k * width, (k + 1) * width));
  const [own, ...others] = scales(controls === 'alpha' ? [direction, ...randomUnits] : [direction]);
  const strength = alpha * own;
  // Each r is a unit vector, so s·r has norm |s|.
  const sizes = Array.from({ length: random }, (_, k) => (controls === 'alpha' ? alpha * others[k] : strength));
  return {
    strength,
    vectors: [direction.map((x) => strength * x), ...sizes.map((s, k) => units.slice(k * width, (k + 1) * width).map((x) => s * x))],
    norm: Math.abs(strength),
    randomNorms: sizes.map(Math.abs),
  };
}

/**
 * `project`: remove the component along a direction (x − (x·v)v), or set a unit to 0; `zero`: set a unit to 0;
 * `mean`: set a unit, or the component along a direction, to its mean over the inputs (x − (x·v − m)v, m the mean of
 * x·v), which removes what the direction tells apart without moving the layer off its usual values.
 */
export type AblationMode = 'project' | 'zero' | 'mean';

/** What is ablated: a unit direction in the layer, or one unit (neuron). */
export type AblationTarget = { kind: 'direction'; direction: Float32Array } | { kind: 'unit'; unit: number };

const zeroSetsAUnit = 'Zero-ablation sets one unit; give a neuron, or project a direction out (or set it to its mean).';

/** The intervention that ablates `target` at `layer` in `mode`; `means` (each unit's mean over the inputs) is needed for `mean`. */
export function ablationOf(layer: string, mode: AblationMode, target: AblationTarget, means?: Float32Array): Intervention {
  if (mode === 'zero' && target.kind !== 'unit') throw new ModelUseError(zeroSetsAUnit);
  if (mode !== 'mean') return target.kind === 'direction' ? { kind: 'project-out', layer, direction: target.direction } : { kind: 'set-units', layer, units: [target.unit], values: [0] };
  if (!means) throw new ModelUseError('Mean-ablation needs the units\u2019 means over the inputs.');
  if (target.kind === 'unit') return { kind: 'set-units', layer, units: [target.unit], values: [means[target.unit]] };
  // The mean of x·v is the units' means · v.
  let value = 0;
  target.direction.forEach((x, u) => (value += x * means[u]));
  return { kind: 'project-out', layer, direction: target.direction, value };
}

/**
 * The controls an ablation of `target` is compared with: `random` seeded random unit directions for a direction
 * (projected out or set to its mean as it is), or as many distinct random other units for a unit in zero and mean
 * modes (`controlUnits` lists them).
 */
export function ablationControls(layer: string, width: number, target: AblationTarget, mode: AblationMode, random: number, seed: number): { controls: AblationTarget[]; controlUnits?: number[] } {
  if (mode === 'project' || target.kind === 'direction') {
    if (mode === 'zero') throw new ModelUseError(zeroSetsAUnit);
    const directions = randomDirections(width, random, seed);
    return { controls: Array.from({ length: random }, (_, k) => ({ kind: 'direction', direction: directions.slice(k * width, (k + 1) * width) })) };
  }
  if (random > width - 1) throw new ModelUseError(`${layer} has ${width - 1} other units to ablate as controls; ${random} were asked for.`);
  const others = Array.from(range(width)).filter((u) => u !== target.unit);
  const controlUnits = Array.from(shuffle(Int32Array.from(others), createRng(seed)).subarray(0, random));
  return { controls: controlUnits.map((unit) => ({ kind: 'unit', unit })), controlUnits };
}
