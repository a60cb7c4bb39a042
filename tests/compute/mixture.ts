import { createRng, gaussian } from '../../src/lib/rng';

/** n x d rows from `clusters` well-separated isotropic Gaussians; labels alongside. */
export function mixture(n: number, d: number, clusters: number, seed: number) {
  const random = createRng(seed);
  const centres = Array.from({ length: clusters * d }, () => 8 * gaussian(random));
  const data = new Float32Array(n * d);
  const label = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    label[i] = i % clusters;
    for (let j = 0; j < d; j++) data[i * d + j] = centres[label[i] * d + j] + gaussian(random);
  }
  return { data, label };
}
