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

/** TCAV score: the fraction of rows whose gradient has a positive directional derivative along the concept `direction`. */
export function tcavScore(gradients: Float32Array, direction: Float32Array): number {
  const dim = direction.length;
  if (dim === 0 || gradients.length % dim !== 0) throw new Error(`tcavScore: ${gradients.length} gradient values are not whole rows of ${dim}`);
  const n = gradients.length / dim;
  if (n === 0) return Number.NaN;
  let positive = 0;
  for (let i = 0, o = 0; i < n; i++, o += dim) {
    let dot = 0;
    for (let k = 0; k < dim; k++) dot += gradients[o + k] * direction[k];
    if (dot > 0) positive++;
  }
  return positive / n;
}
