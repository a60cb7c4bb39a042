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

/** Fraction of points whose nearest layout neighbour shares their cluster. */
export function nearestSameCluster(layout: Float32Array, label: Int32Array): number {
  const n = label.length;
  let same = 0;
  for (let i = 0; i < n; i++) {
    let best = -1;
    let bestD = Infinity;
    for (let j = 0; j < n; j++) {
      if (j === i) continue;
      const dd = (layout[2 * i] - layout[2 * j]) ** 2 + (layout[2 * i + 1] - layout[2 * j + 1]) ** 2;
      if (dd < bestD) {
        bestD = dd;
        best = j;
      }
    }
    if (label[best] === label[i]) same++;
  }
  return same / n;
}
