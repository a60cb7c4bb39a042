import type { ImageProvider } from './recordImages';

/**
 * An ImageProvider that, while its inputs are asked for in order, loads the next `window` - 1 meanwhile, so
 * reading and decoding files overlaps the model's work. In order, at most `window` loads are in flight or waiting
 * to be taken: a folder of any size is read a few files at a time, and each decoded image is dropped once
 * handed out. An ask out of order (gradients, a neuron's inputs) drops what was read ahead (reads under way
 * still finish, unused) and loads just it.
 */
export function readAhead(images: ImageProvider, window: number): ImageProvider {
  const pending = new Map<number, Promise<Awaited<ReturnType<ImageProvider['load']>>>>();
  let last = -1;
  let next = 0;
  const start = (i: number) => {
    const loading = images.load(i);
    // Taken later, or never if the recording stops first: no unhandled rejection meanwhile.
    loading.catch(() => undefined);
    pending.set(i, loading);
  };
  return {
    count: images.count,
    name: (i) => images.name(i),
    label: (i) => images.label(i),
    load(i) {
      const inOrder = i === last + 1;
      last = i;
      const loading = pending.get(i) ?? images.load(i);
      pending.delete(i);
      if (!inOrder) {
        pending.clear();
        next = i + 1;
        return loading;
      }
      for (next = Math.max(next, i + 1); next < images.count && next < i + window; next++) start(next);
      return loading;
    },
  };
}
