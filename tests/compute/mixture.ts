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

/**
 * A seeded Gaussian mixture with structure inside each cluster (12 clusters, each a noisy 8-dim linear
 * manifold), so neighbour recall measures something: the projection and scale benches' data.
 */
export function structuredMixture(n: number, d: number, seed: number): Float32Array {
  const random = createRng(seed);
  const clusters = 12;
  const latent = Math.min(8, d);
  const centres = new Float64Array(clusters * d);
  for (let v = 0; v < centres.length; v++) centres[v] = 3 * gaussian(random);
  const loadings = new Float64Array(clusters * latent * d);
  for (let v = 0; v < loadings.length; v++) loadings[v] = gaussian(random) / Math.sqrt(latent);
  const z = new Float64Array(latent);
  const x = new Float32Array(n * d);
  for (let i = 0; i < n; i++) {
    const c = Math.floor(random() * clusters);
    // Decaying latent scales give each cluster a dominant few directions, as real activations have.
    for (let s = 0; s < latent; s++) z[s] = (gaussian(random) * 2) / (1 + s);
    for (let j = 0; j < d; j++) {
      let v = centres[c * d + j] + 0.3 * gaussian(random);
      for (let s = 0; s < latent; s++) v += z[s] * loadings[(c * latent + s) * d + j];
      x[i * d + j] = v;
    }
  }
  return x;
}
