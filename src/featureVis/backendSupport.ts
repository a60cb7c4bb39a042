import * as tf from '@tensorflow/tfjs';
import type { ImageModel } from '../model/image/imageModel';
import { layerFunction } from './objective';
import { randomDirections, visualiseDirections } from './optimise';
import { installWasmGradientKernels, isInstalled, SUPPLIED_WASM_KERNELS } from '../model/wasmKernels';

/** Whether feature visualisation of one layer can run on one backend, and what stops it. */
export interface GradientSupport {
  backend: string;
  ok: boolean;
  /** Gradient kernels (beyond elementwise ones) the model's path needs. */
  needed: string[];
  /** Gradient kernels the work needs that this backend has no kernel for. */
  missing: string[];
  /** Ops on the path that TF.js has no gradient for at all (no backend helps). */
  noGradient: string[];
  /** The probe's error, when it failed. */
  error?: string;
}

/** Kernels that the gradients of these forward kernels run, beyond elementwise ones every backend has. */
const GRADIENT_KERNELS: Record<string, string[]> = {
  Conv2D: ['Conv2DBackpropInput'],
  // A fused op's gradient (a customGrad) computes the filter's gradient too, wanted or not.
  FusedConv2D: ['Conv2DBackpropInput', 'Conv2DBackpropFilter'],
  Conv2DBackpropInput: ['Conv2D'],
  DepthwiseConv2dNative: ['DepthwiseConv2dNativeBackpropInput'],
  FusedDepthwiseConv2D: ['DepthwiseConv2dNativeBackpropInput', 'DepthwiseConv2dNativeBackpropFilter'],
  MaxPool: ['MaxPoolGrad'],
  AvgPool: ['AvgPoolGrad'],
  GatherV2: ['UnsortedSegmentSum'],
  ResizeBilinear: ['ResizeBilinearGrad'],
  ResizeNearestNeighbor: ['ResizeNearestNeighborGrad'],
  Elu: ['EluGrad'],
  LRN: ['LRNGrad'],
  Conv3D: ['Conv3DBackpropInputV2'],
  MaxPool3D: ['MaxPool3DGrad'],
  AvgPool3D: ['AvgPool3DGrad'],
};

const errorKernel = (message: string): { missing?: string; noGradient?: string } => {
  const missing = /Kernel '([^']+)' not registered for backend/.exec(message)?.[1];
  const noGradient = /gradient function not found for ([^.\s]+)/.exec(message)?.[1];
  return { missing, noGradient };
};

/**
 * What stops gradient ascent on `layer` from running on `backend`: gradient kernels missing from the registry
 * (for the forward kernels tf.profile lists), then one real step of the whole pipeline, whose error names any
 * op without a gradient. Switches to `backend` for the probe and back (unless another caller switched meanwhile:
 * the model worker serialises its calls); the weights follow lazily.
 */
export async function gradientSupport(model: ImageModel, layer: string, backend = tf.getBackend(), options: { size?: number } = {}): Promise<GradientSupport> {
  const previous = tf.getBackend();
  const result: GradientSupport = { backend, ok: false, needed: [], missing: [], noGradient: [] };
  if (backend !== previous && !(await tf.setBackend(backend).catch(() => false))) {
    await tf.setBackend(previous);
    return { ...result, error: `backend ${backend} failed to initialise` };
  }
  try {
    const forward = layerFunction(model, layer);
    // The forward runs under a gradient tape, as in a real step: there TF.js fuses a convolution only when it
    // has no activation. The tape's only path from z is z * 0, so no backward kernel of the model runs.
    const profile = await tf.profile(() => {
      tf.tidy(() => {
        const input = tf.zeros<tf.Rank.R4>([1, model.inputHeight, model.inputWidth, model.inputChannels]);
        tf.grad((z: tf.Tensor) => tf.add(tf.sum(forward(input)), tf.mul(z, 0)))(tf.scalar(0));
      });
    });
    for (const kernel of new Set(profile.kernelNames)) {
      for (const needed of GRADIENT_KERNELS[kernel] ?? []) {
        if (!result.needed.includes(needed)) result.needed.push(needed);
        if (!tf.getKernel(needed, backend) && !result.missing.includes(needed)) result.missing.push(needed);
      }
    }
    try {
      const dim = model.layer(layer).shape.at(-1)!;
      await visualiseDirections(model, layer, randomDirections(dim, 1, 0), { steps: 1, batchSize: 1, size: options.size });
      result.ok = true;
    } catch (e) {
      const message = (e as Error).message ?? String(e);
      const { missing, noGradient } = errorKernel(message);
      if (missing && !result.missing.includes(missing)) result.missing.push(missing);
      if (noGradient && !result.noGradient.includes(noGradient)) result.noGradient.push(noGradient);
      result.error = message;
    }
    return result;
  } finally {
    if (tf.getBackend() === backend && backend !== previous) await tf.setBackend(previous);
  }
}

/** Which backend feature visualisation should use for a layer, and a sentence for the user. */
export interface FeatureVisBackendChoice {
  /** null when no backend can compute the gradients: show dataset exemplars instead. */
  backend: string | null;
  message: string;
  support: GradientSupport[];
}

export interface ChooseOptions {
  /** Backends to try, fastest first; defaults to the current backend when it is a GPU one, then wasm, cpu, webgl, webgpu. */
  order?: string[];
  /** Add the wasm gradient kernels of wasmKernels.ts first (default true). */
  supplyWasmKernels?: boolean;
  /** The icon size the jobs will use, so the probe runs the same resampling. */
  size?: number;
}

/**
 * Picks the first backend on which feature visualisation of `layer` works (see gradientSupport). It does
 * not switch: tf.setBackend is global, so the caller (the model worker, which owns TF) switches between
 * jobs with `await tf.setBackend(choice.backend)`; a switch moves the model's weights to that backend.
 */
export async function chooseFeatureVisBackend(model: ImageModel, layer: string, options: ChooseOptions = {}): Promise<FeatureVisBackendChoice> {
  if (options.supplyWasmKernels !== false) installWasmGradientKernels();
  const current = tf.getBackend();
  const defaults = [...(current === 'webgl' || current === 'webgpu' ? [current] : []), 'wasm', 'cpu', 'webgl', 'webgpu'];
  const order = [...new Set(options.order ?? defaults)].filter((name) => tf.findBackendFactory(name));
  const support: GradientSupport[] = [];
  for (const backend of order) {
    const s = await gradientSupport(model, layer, backend, { size: options.size });
    support.push(s);
    if (!s.ok) continue;
    const failed = support.filter((f) => !f.ok);
    const why = [...new Set(failed.map(describeFailure))].join('; ');
    const slower = failed.length ? ' (slower)' : '';
    const used = backend === 'wasm' ? SUPPLIED_WASM_KERNELS.filter((k) => s.needed.includes(k) && isInstalled(k)) : [];
    const helped = used.length ? ` (with featureVis's own ${used.join(', ')} for wasm)` : '';
    const message = failed.length
      ? `${model.name}: ${why}; feature visualisation runs on ${backend}${slower}.`
      : `${model.name}: feature visualisation runs on ${backend}${helped}.`;
    return { backend, message, support };
  }
  const reasons = [...new Set(support.map(describeFailure))].join('; ') || 'no TF.js backend is registered';
  return { backend: null, message: `${model.name}: ${reasons}; feature visualisation is off and cells show dataset exemplars.`, support };
}

function describeFailure(s: GradientSupport): string {
  if (s.noGradient.length) return `${s.noGradient.join(', ')} has no gradient in TF.js`;
  if (s.missing.length) return `${s.missing.join(', ')} has no ${s.backend} kernel`;
  return `${s.backend} failed (${s.error ?? 'unknown error'})`;
}
