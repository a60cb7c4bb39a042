import * as tf from '@tensorflow/tfjs';
import type { ImageModel } from '../image/imageModel';
import { ModelUseError } from '../recordTable';
import { onGradientBackend, type GradientBackendOptions } from './gradientBackend';

/**
 * Which rows the gradients come as: 'pooled' one per input (see classGradients), 'all' one per input and
 * position (input-major, positions row-major, as a recording of every position), or one flat position per input
 * (-1 = pooled), as the table's `position` column.
 */
export type GradientSites = 'pooled' | 'all' | ArrayLike<number>;

export interface ClassGradientOptions extends GradientBackendOptions {
  sites?: GradientSites;
  batchSize?: number;
}

/** The class logits [B, K] as a function of the input and of a replacement for `layer`'s activation. Call inside tf.tidy. */
export type ClassLogitFunction = (input: tf.Tensor4D, activation: tf.Tensor) => tf.Tensor2D;

/**
 * The model's class logits as a function of a layer's activation (and of the input, for the branches that do
 * not pass through the layer). Where the output is a softmax, the logits are its input: TCAV's class score is
 * the logit, and a log-probability would add -sum_j p_j grad z_j, every other class's pull, to each gradient.
 */
export function classLogitFunction(model: ImageModel, layer: string): ClassLogitFunction {
  model.layer(layer);
  if (model.outputSize === 0) throw new ModelUseError(`Model "${model.name}" has no class output, so it has no class gradients.`);
  return model.kind === 'graph' ? graphLogits(model, layer) : layersLogits(model, layer);
}

/**
 * Gradients of the logit of `classIndex` with respect to `layer`'s activation, one row of D per input (or per
 * input and position, see GradientSites). `inputs` are model inputs (preprocessed), N x H x W x C.
 *
 * Pooled rows follow the atlas's pooling, h = mean_p h_p: moving the pooled vector by v means moving every
 * position by v, which changes the logit by sum_p g_p · v, so the pooled gradient is the SUM of the
 * per-position gradients g_p (not their mean). A vector layer has one position and its row is its gradient.
 * Runs on a backend that has the gradient kernels and restores the current one.
 */
export async function classGradients(
  model: ImageModel,
  layer: string,
  inputs: tf.Tensor4D | Float32Array,
  classIndex: number,
  options: ClassGradientOptions = {},
): Promise<Float32Array> {
  const info = model.layer(layer);
  const { inputHeight: h, inputWidth: w, inputChannels: c } = model;
  if (!Number.isInteger(classIndex) || classIndex < 0 || classIndex >= model.outputSize) {
    throw new ModelUseError(`Class ${classIndex} is not an output of model "${model.name}", which has ${model.outputSize} classes.`);
  }
  const n = inputs instanceof Float32Array ? inputs.length / (h * w * c) : inputs.shape[0];
  if (!Number.isInteger(n)) throw new ModelUseError(`${(inputs as Float32Array).length} input values do not make whole ${h}x${w}x${c} images.`);
  const positions = info.positionShape.reduce((a, b) => a * b, 1);
  const dim = info.shape[info.shape.length - 1];
  const sites = options.sites ?? 'pooled';
  checkSites(sites, n, positions);
  const rowsPer = sites === 'all' ? positions : 1;
  const forward = classLogitFunction(model, layer);
  const batchSize = options.batchSize ?? 16;

  return onGradientBackend(() => {
    const out = new Float32Array(n * rowsPer * dim);
    for (let start = 0; start < n; start += batchSize) {
      const end = Math.min(n, start + batchSize);
      const rows = tf.tidy(() => {
        const x = inputs instanceof Float32Array
          ? tf.tensor4d(inputs.subarray(start * h * w * c, end * h * w * c), [end - start, h, w, c])
          : tf.slice(inputs, [start, 0, 0, 0], [end - start, h, w, c]);
        const { activation } = model.run(x, layer);
        const score = (a: tf.Tensor) => tf.sum(tf.slice(forward(x, a), [0, classIndex], [-1, 1])) as tf.Scalar;
        const perPosition = tf.reshape(tf.grad(score)(activation), [end - start, positions, dim]) as tf.Tensor3D;
        return siteRows(perPosition, sites, start, end);
      });
      try {
        out.set(rows.dataSync(), start * rowsPer * dim);
      } finally {
        rows.dispose();
      }
    }
    return out;
  }, options);
}

function checkSites(sites: GradientSites, n: number, positions: number): void {
  if (typeof sites === 'string') return;
  if (sites.length !== n) throw new ModelUseError(`Gradient sites name ${sites.length} positions for ${n} inputs.`);
  for (let i = 0; i < n; i++) {
    const p = sites[i];
    if (!Number.isInteger(p) || p < -1 || p >= positions) throw new ModelUseError(`Position ${p} (input ${i}) is not -1 (pooled) or a position of the layer's ${positions}.`);
  }
}

/** Rows of [B, P, D] per-position gradients for inputs start..end: pooled sums, every position, or the named ones. */
function siteRows(perPosition: tf.Tensor3D, sites: GradientSites, start: number, end: number): tf.Tensor2D {
  const [b, p, d] = perPosition.shape;
  if (sites === 'pooled') return tf.sum(perPosition, 1);
  if (sites === 'all') return tf.reshape(perPosition, [b * p, d]);
  const picked = Array.from({ length: end - start }, (_, i) => sites[start + i]);
  const flat = tf.reshape(perPosition, [b * p, d]);
  const rows = tf.gather(flat, tf.tensor1d(picked.map((q, i) => i * p + Math.max(q, 0)), 'int32'));
  if (!picked.some((q) => q < 0)) return rows as tf.Tensor2D;
  const pooled = tf.tensor2d(picked.map((q) => (q < 0 ? 1 : 0)), [b, 1], 'bool');
  return tf.where(pooled, tf.sum(perPosition, 1), rows) as tf.Tensor2D;
}

/** A softmax activation's stand-in while the logits are read: the identity (fused as 'linear' where a layer fuses it). */
const IDENTITY_ACTIVATION = { apply: (x: tf.Tensor) => x, getClassName: () => 'linear' };

interface ActivationLike {
  getClassName(): string;
}

/**
 * Layers models: the recorded layer's `call` is swapped for one that returns the replacement activation, and a
 * final softmax for the identity, for the length of one synchronous forward. That reads the logits through any
 * topology (skip connections included) without rebuilding the model from an intermediate tensor, which TF.js's
 * tf.model cannot take as an input.
 */
function layersLogits(model: ImageModel, layer: string): ClassLogitFunction {
  const base = model.tfModel as tf.LayersModel;
  const recorded = base.getLayer(layer);
  const last = (base.outputs[0] as tf.SymbolicTensor).sourceLayer as tf.layers.Layer;
  const lastActivation = (last as unknown as { activation?: ActivationLike | null }).activation;
  const softmaxActivation = lastActivation?.getClassName() === 'softmax';
  const softmaxLayer = last.getClassName() === 'Softmax';
  if ((softmaxActivation || softmaxLayer) && recorded === last) {
    throw new ModelUseError(`Layer "${layer}" is the softmax output of "${model.name}"; class gradients are taken at the logits, so record an earlier layer.`);
  }
  return (input, activation) => {
    const undo = [override(recorded, 'call', () => activation.clone())];
    try {
      // The clone: the executor disposes a layer's output once its consumers ran, and must not take the caller's tensor.
      if (softmaxActivation) undo.push(override(last, 'activation', IDENTITY_ACTIVATION));
      else if (softmaxLayer) undo.push(override(last, 'call', (inputs: tf.Tensor | tf.Tensor[]) => (Array.isArray(inputs) ? inputs[0] : inputs).clone()));
      return base.apply(input, { training: false }) as tf.Tensor2D;
    } finally {
      for (const restore of undo.reverse()) restore();
    }
  };
}

/** Sets `target[key]` and returns what puts it back (deleting an own property that was not there). */
function override(target: object, key: string, value: unknown): () => void {
  const record = target as Record<string, unknown>;
  const own = Object.hasOwn(record, key);
  const before = record[key];
  record[key] = value;
  return () => {
    if (own) record[key] = before;
    else delete record[key];
  };
}

interface GraphNodeLike {
  op: string;
  inputs: { name: string }[];
}

/** Graph models: the activation is fed at the layer's node (with the image at the input, for other branches) and the logits fetched. */
function graphLogits(model: ImageModel, layer: string): ClassLogitFunction {
  const graph = model.tfModel as tf.GraphModel;
  const inputName = graph.inputs[0].name;
  const output = graph.outputNodes[0].replace(/:\d+$/, '');
  // The graph's nodes are not public in tfjs-converter 4.22; they are read only to find the softmax's input.
  const nodes = (graph as unknown as { executor?: { graph?: { nodes?: Record<string, GraphNodeLike> } } }).executor?.graph?.nodes;
  let logits = output;
  const passed: string[] = [];
  for (let node = nodes?.[logits]; node && (node.op === 'Identity' || node.op === 'Softmax') && node.inputs.length > 0; node = nodes?.[logits]) {
    passed.push(logits);
    if (node.op === 'Softmax') {
      logits = node.inputs[0].name;
      break;
    }
    logits = node.inputs[0].name;
  }
  if (!nodes?.[logits]?.op || nodes[logits].op === 'Softmax') logits = output;
  if (logits !== output && passed.includes(layer)) {
    throw new ModelUseError(`Layer "${layer}" is the softmax output of "${model.name}"; class gradients are taken at the logits, so record an earlier layer.`);
  }
  return (input, activation) => graph.execute({ [inputName]: input, [layer]: activation }, logits) as tf.Tensor2D;
}
