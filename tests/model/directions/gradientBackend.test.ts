import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { chooseBackend } from '../../../src/model/backend';
import { onGradientBackend } from '../../../src/model/directions/gradientBackend';
import { uninstallWasmGradientKernels } from '../../../src/model/wasmKernels';
import { readTidy } from '../../../src/model/readTensors';

/** A small gradient that records the backend it ran on. */
function gradientWork(seen: string[]): () => Float32Array {
  return () => {
    seen.push(tf.getBackend());
    return readTidy(() => tf.grad((x: tf.Tensor) => tf.sum(tf.square(x)))(tf.tensor1d([1, 2, 3])));
  };
}

const SLOW = 'slow-cpu-for-tests';

beforeAll(async () => {
  await chooseBackend({ node: true });
  // A backend whose first initialisation awaits, as wasm's does: a cpu backend handed over after a timer.
  const Cpu = tf.findBackend('cpu')!.constructor as new () => tf.KernelBackend;
  tf.registerBackend(SLOW, () => new Promise<tf.KernelBackend>((resolve) => setTimeout(() => resolve(new Cpu()), 20)));
  for (const kernel of tf.getKernelsForBackend('cpu')) tf.registerKernel({ ...kernel, backendName: SLOW });
});
beforeEach(async () => {
  await tf.setBackend('wasm');
});
afterAll(async () => {
  await tf.setBackend('wasm');
  for (const kernel of tf.getKernelsForBackend(SLOW)) tf.unregisterKernel(kernel.kernelName, SLOW);
  tf.removeBackend(SLOW);
  uninstallWasmGradientKernels();
});

describe('onGradientBackend', () => {
  it('runs two calls at once each on the backend it chose, and the backend in use before comes back', async () => {
    const seen: string[][] = [[], []];
    const results = await Promise.all([
      onGradientBackend(gradientWork(seen[0]), { backends: ['cpu'] }),
      onGradientBackend(gradientWork(seen[1]), { backends: ['wasm'] }),
    ]);
    expect(seen).toEqual([['cpu'], ['wasm']]);
    for (const r of results) expect(Array.from(r)).toEqual([2, 4, 6]);
    expect(tf.getBackend()).toBe('wasm');
  });

  it('keeps a backend another caller chose while its own backend initialised', async () => {
    const seen: string[] = [];
    const call = onGradientBackend(gradientWork(seen), { backends: [SLOW] });
    await new Promise((resolve) => setTimeout(resolve, 0));
    // Another caller switches while SLOW initialises.
    await tf.setBackend('cpu');
    await expect(call).resolves.toEqual(new Float32Array([2, 4, 6]));
    expect(seen).toEqual([SLOW]);
    expect(tf.getBackend()).toBe('cpu');
    // The name and the backend that runs kernels agree (tf.setBackend's end could leave SLOW's instance under cpu's name).
    expect((tf.engine() as unknown as { backend: tf.KernelBackend }).backend).toBe(tf.findBackend('cpu'));
  });

  it('restores the backend when the work throws, and refuses asynchronous work', async () => {
    await expect(onGradientBackend(() => {
      throw new Error('not a kernel problem');
    }, { backends: ['cpu'] })).rejects.toThrow('not a kernel problem');
    expect(tf.getBackend()).toBe('wasm');
    await expect(onGradientBackend(async () => 1, { backends: ['cpu'] })).rejects.toThrow(/synchronous work only/);
    expect(tf.getBackend()).toBe('wasm');
  });
});
