import { NN_DESCENT_KERNELS, type ForestState, type NnDescentState } from '../knn';
import { sgdChunks, type SgdChunkInput } from '../umap';
import { placeRange, type PlaceInput } from './placeKernel';

/**
 * A kernel computes indices [start, end) of a job from its input and writes their outputs into the input's arrays,
 * nothing that another range writes (an index may be a row, a tree, or rows it owns by some fixed rule). It must
 * be deterministic per index (no shared RNG, nothing that depends on where a range starts), so that any split of
 * [0, total) into ranges writes the same output.
 */
export type Kernel<I> = (input: I, start: number, end: number) => void;

/**
 * The input of each registered kernel, by name. An interface so that a module registering its own kernel can
 * declare its input beside it (`declare module '.../kernels' { interface KernelInputs { name: Input } }`).
 */
export interface KernelInputs {
  /** NN-descent's steps of one round (src/compute/knn.ts): over rows, or over a join block's rows for 'knn-join'. */
  'knn-sample': NnDescentState;
  'knn-mark-old': NnDescentState;
  'knn-join': NnDescentState;
  'knn-apply': NnDescentState;
  /** NN-descent's random-projection forest: building the trees after the first (over trees), then their leaves' pairs (over rows). */
  'knn-trees': ForestState;
  'knn-leaf-join': ForestState;
  /** Placing a batch of rows into a fitted UMAP or t-SNE layout (src/compute/transform.ts), over rows. */
  'layout-place': PlaceInput;
  /** One epoch of UMAP's SGD (src/compute/umap.ts), over fixed chunks of vertices. */
  'umap-epoch': SgdChunkInput;
}

/** A registered kernel's name. */
export type KernelName = keyof KernelInputs & string;

const registry = new Map<string, Kernel<never>>([...Object.entries(NN_DESCENT_KERNELS), ['layout-place', placeRange as Kernel<never>], ['umap-epoch', sgdChunks as Kernel<never>]]);

/**
 * Adds (or replaces) a kernel. A kernel a worker runs must be registered in the worker too: register it at the
 * top level of a module that this file or the worker's entry imports.
 */
export function registerKernel<K extends KernelName>(name: K, kernel: Kernel<KernelInputs[K]>): void {
  registry.set(name, kernel as Kernel<never>);
}

/** The kernel registered under `name`; throws for a name nothing registered (say, one a worker's entry lacks). */
export function kernelFor<K extends KernelName>(name: K): Kernel<KernelInputs[K]> {
  const kernel = registry.get(name);
  if (!kernel) throw new Error(`No kernel "${name}" is registered in this thread (registered: ${[...registry.keys()].join(', ')}).`);
  return kernel as Kernel<KernelInputs[K]>;
}
