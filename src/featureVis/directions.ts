import { createRng, gaussian } from '../lib/rng';

/** Basis directions e_c (one per channel), k x D: a neuron's feature visualisation with the same machinery. */
export function neuronDirections(dim: number, channels: number[]): Float32Array {
  const out = new Float32Array(channels.length * dim);
  channels.forEach((c, i) => {
    if (!(c >= 0 && c < dim)) throw new Error(`channel ${c} is outside 0..${dim - 1}`);
    out[i * dim + c] = 1;
  });
  return out;
}

/** Seeded random unit directions, count x D. */
export function randomDirections(dim: number, count: number, seed: number): Float32Array {
  const random = createRng(seed);
  const out = new Float32Array(count * dim);
  for (let i = 0; i < count; i++) {
    let norm = 0;
    for (let j = 0; j < dim; j++) norm += (out[i * dim + j] = gaussian(random)) ** 2;
    norm = Math.sqrt(norm);
    for (let j = 0; j < dim; j++) out[i * dim + j] /= norm;
  }
  return out;
}
