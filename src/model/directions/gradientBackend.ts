import * as tf from '@tensorflow/tfjs';
import { installWasmGradientKernels } from '../wasmKernels';
import { ModelUseError } from '../recordTable';

export interface GradientBackendOptions {
  /** Backends to try in order; defaults to the current one, then wasm, then cpu. */
  backends?: string[];
  /** Add featureVis's wasm gradient kernels first (default true), as feature visualisation does. */
  supplyWasmKernels?: boolean;
}

const missingKernel = (message: string) => /Kernel '([^']+)' not registered for backend/.exec(message)?.[1];
const noGradient = (message: string) => /gradient function not found for ([^.\s]+)/.exec(message)?.[1];

/** Whether `name` is initialised (tf.findBackend would start initialising it). */
const isInitialised = (name: string): boolean => tf.engine().registry[name] != null;

/**
 * Makes an initialised backend the current one. tf.setBackend runs to its end without awaiting when the
 * backend is initialised, so the switch has happened when this returns.
 */
function switchNow(name: string): void {
  if (tf.getBackend() !== name) void tf.setBackend(name);
}

/**
 * Initialises `name` without leaving it selected. TF.js selects a backend to initialise it, so what was current
 * before is put back, unless another caller chose a backend during the wait: then that one is selected again, as
 * the end of tf.setBackend installs `name`'s instance under whatever name is current by then.
 */
async function initialise(name: string): Promise<boolean> {
  if (isInitialised(name)) return true;
  const before = tf.getBackend();
  const ok = await tf.setBackend(name).catch(() => false);
  const now = tf.getBackend();
  const wanted = now === name ? before : now;
  if (wanted && isInitialised(wanted)) void tf.setBackend(wanted);
  return ok && isInitialised(name);
}

/**
 * Runs gradient work on the first backend that has its kernels: a backend that lacks one (wasm lacks some
 * gradient kernels) is skipped for the next. An op TF.js has no gradient for at all is a ModelUseError.
 *
 * The contract, as the TF.js backend is one global: `work` is synchronous, and the switch to the chosen backend,
 * `work` and the switch back happen with no await between them, so no other caller ever runs on this call's
 * backend and the backend in use before is back (also on error) before anything else runs. Awaiting only happens
 * while a backend initialises for the first time. Work that awaits between steps calls this once per step.
 * Tensors made on another backend move over lazily.
 */
export async function onGradientBackend<T>(work: () => T, options: GradientBackendOptions = {}): Promise<T> {
  if (options.supplyWasmKernels !== false) installWasmGradientKernels();
  const current = tf.getBackend();
  const order = [...new Set(options.backends ?? [current, 'wasm', 'cpu'])].filter((name) => tf.findBackendFactory(name) || name === current);
  const skipped: string[] = [];
  for (const backend of order) {
    if (!(await initialise(backend))) {
      skipped.push(`${backend} failed to initialise`);
      continue;
    }
    const previous = tf.getBackend();
    switchNow(backend);
    try {
      const result = work();
      if (result instanceof Promise) {
        result.catch(() => undefined);
        throw new Error('onGradientBackend takes synchronous work only: the backend is global and is not held across an await.');
      }
      return result;
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      const op = noGradient(message);
      if (op) throw new ModelUseError(`${op} has no gradient in TF.js, so class gradients cannot be computed through it.`, { cause: e });
      const kernel = missingKernel(message);
      if (!kernel) throw e;
      skipped.push(`${kernel} has no ${backend} kernel`);
    } finally {
      switchNow(previous);
    }
  }
  throw new ModelUseError(`No backend can compute these gradients: ${skipped.join('; ') || 'none is registered'}.`);
}
