/**
 * Class attribution per row: activation · gradient (rows of D), the first-order share of the class logit that a
 * recorded point carries; the atlas's class filter sums it over a cell's members. Pure: no TF.
 */
export function classAttribution(activations: Float32Array, gradients: Float32Array, dim: number): Float32Array {
  if (activations.length !== gradients.length || !Number.isInteger(dim) || dim < 1 || activations.length % dim !== 0) {
    throw new Error(`classAttribution: ${activations.length} activation and ${gradients.length} gradient values are not the same whole rows of ${dim}`);
  }
  const n = activations.length / dim;
  const out = new Float32Array(n);
  for (let i = 0, o = 0; i < n; i++, o += dim) {
    let dot = 0;
    for (let k = 0; k < dim; k++) dot += activations[o + k] * gradients[o + k];
    out[i] = dot;
  }
  return out;
}
