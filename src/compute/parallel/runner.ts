import { kernelFor, type KernelInputs, type KernelName } from './kernels';
import { allocate, type ArrayType, type SharedArray } from './shared';

export { allocate, canShareMemory, splitRange, type SharedArray, type SharedInputs } from './shared';

/**
 * Runs a registered kernel over [0, total) split into contiguous ranges, one per thread, and resolves once
 * every range is written. Kernels are deterministic per index, so the result never depends on `threads`.
 */
export interface RangeRunner {
  /** Ranges a call is split into (the calling thread included where it computes one itself). */
  readonly threads: number;
  /** True when inputs and outputs must lie in SharedArrayBuffers for the other threads to see them. */
  readonly sharesMemory: boolean;
  run<K extends KernelName>(kernel: K, input: KernelInputs[K], total: number): Promise<void>;
}

/** A runner that owns threads: `dispose` ends them (later runs reject). */
export interface RangePool extends RangeRunner {
  dispose(): void;
}

/** `array` itself when it already lies where the runner's threads see it, otherwise a shared copy. */
export function shareWith<T extends SharedArray>(runner: RangeRunner, array: T): T {
  if (!runner.sharesMemory || array.buffer instanceof SharedArrayBuffer) return array;
  const copy = allocate(array.constructor as ArrayType<T>, array.length, true);
  copy.set(array as never);
  return copy;
}

/**
 * A copy of a plain structure (objects, arrays, numbers, strings) whose typed arrays all lie where the runner's
 * threads see them: for inputs that many runs read, such as a fitted layout, shared once instead of per run.
 */
export function shareTree<T>(runner: RangeRunner, value: T): T {
  if (!runner.sharesMemory || value === null || typeof value !== 'object') return value;
  if (ArrayBuffer.isView(value)) return (value instanceof DataView ? value : shareWith(runner, value as unknown as SharedArray)) as T;
  if (Array.isArray(value)) return value.map((v) => shareTree(runner, v)) as T;
  return Object.fromEntries(Object.entries(value).map(([key, v]) => [key, shareTree(runner, v)])) as T;
}

/** Runs every kernel in the calling thread over the whole range: the fallback where no memory can be shared. */
export function inProcessRunner(): RangeRunner {
  return {
    threads: 1,
    sharesMemory: false,
    async run(kernel, input, total) {
      if (total > 0) kernelFor(kernel)(input, 0, total);
    },
  };
}
