/** Three well-separated clusters of activations with a label and a text per row, as a user's precomputed embeddings. */
export const CLUSTERS = [
  { label: 'whales', text: 'The whale rose from the deep sea' },
  { label: 'cities', text: 'The city streets were full of carts' },
  { label: 'kitchens', text: 'Bread baked slowly in the warm oven' },
] as const;

/** `rows` rows of `dim` values (row k in cluster k % 3, seeded noise around its centre), with each row's label and text. */
export function clusteredRows(rows: number, dim: number, seed = 1): { values: Float32Array; label: string[]; text: string[] } {
  let state = seed >>> 0 || 1;
  const random = () => {
    state = (state * 1664525 + 1013904223) >>> 0;
    return state / 2 ** 32 - 0.5;
  };
  const values = new Float32Array(rows * dim);
  const label: string[] = [];
  const text: string[] = [];
  for (let r = 0; r < rows; r++) {
    const c = r % CLUSTERS.length;
    for (let d = 0; d < dim; d++) values[r * dim + d] = (d % CLUSTERS.length === c ? 6 : 0) + random();
    label.push(CLUSTERS[c].label);
    text.push(`${CLUSTERS[c].text} (row ${r})`);
  }
  return { values, label, text };
}
