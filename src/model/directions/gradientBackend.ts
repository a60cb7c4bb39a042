import * as tf from '@tensorflow/tfjs';
import { installWasmGradientKernels } from '../../featureVis/wasmKernels';
import { ModelUseError } from '../recordTable';

export interface GradientBackendOptions {
  /** Backends to try in order; defaults to the current one, then wasm, then cpu. */
  backends?: string[];
  /** Add featureVis's wasm gradient kernels first (default true), as feature visualisation does. */
  supplyWasmKernels?: boolean;
}

const missingKernel = (message: string) => /Kernel '([^']+)' not registered for backend/.exec(message)?.[1];
const noGradient = (message: string) => /gradient function not found for ([^.\s]+)/.exec(message)?.[1];

/**
 * Runs gradient work on the first backend that has its kernels: a backend that lacks one (wasm lacks some
 * gradient kernels) is skipped for the next. The backend in use before is restored afterwards, also on error;
 * tensors follow lazily. An op TF.js has no gradient for at all is a ModelUseError (no backend helps).
 */
export async function onGradientBackend<T>(work: () => T, options: GradientBackendOptions = {}): Promise<T> {
  if (options.supplyWasmKernels !== false) installWasmGradientKernels();
  const previous = tf.getBackend();
  const order = [...new Set(options.backends ?? [previous, 'wasm', 'cpu'])].filter((name) => tf.findBackendFactory(name) || name === previous);
  const skipped: string[] = [];
  try {
    for (const backend of order) {
      if (tf.getBackend() !== backend && !(await tf.setBackend(backend).catch(() => false))) {
        skipped.push(`${backend} failed to initialise`);
        continue;
      }
      try {
        return work();
      } catch (e) {
        const message = e instanceof Error ? e.message : String(e);
        const op = noGradient(message);
        if (op) throw new ModelUseError(`${op} has no gradient in TF.js, so class gradients cannot be computed through it.`, { cause: e });
        const kernel = missingKernel(message);
        if (!kernel) throw e;
        skipped.push(`${kernel} has no ${backend} kernel`);
      }
    }
    throw new ModelUseError(`No backend can compute these gradients: ${skipped.join('; ') || 'none is registered'}.`);
  } finally {
    if (tf.getBackend() !== previous) await tf.setBackend(previous);
  }
}
