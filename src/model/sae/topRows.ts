import type { SparseLatents } from './sae';

/** Each latent's most active rows, most active first (ties: the earlier row first). */
export interface LatentTopRows {
  /** Rows kept per latent at most. */
  k: number;
  /** rows[i] and values[i]: latent i's top rows and activations (fewer than k where it fired on fewer rows). */
  rows: Int32Array[];
  values: Float32Array[];
}

/** The `k` most active rows of every latent, from sparse latents, in one pass with a bounded list per latent. */
export function latentTopRows(latents: SparseLatents, k: number): LatentTopRows {
  if (!(Number.isInteger(k) && k >= 0)) throw new RangeError(`Top rows per latent must be a whole number, not ${k}.`);
  const { dSae, count, rowStart, latent, value } = latents;
  const size = new Int32Array(dSae);
  const rows = new Int32Array(dSae * k);
  const values = new Float32Array(dSae * k);
  for (let r = 0; r < count; r++) {
    for (let e = rowStart[r]; e < rowStart[r + 1]; e++) {
      const i = latent[e];
      const v = value[e];
      const base = i * k;
      let at = size[i];
      if (at === k && !(k > 0 && v > values[base + k - 1])) continue;
      if (at === k) at--;
      else size[i]++;
      // Insertion from the end: rows come in order, so an equal value stays behind the earlier row.
      while (at > 0 && values[base + at - 1] < v) {
        values[base + at] = values[base + at - 1];
        rows[base + at] = rows[base + at - 1];
        at--;
      }
      values[base + at] = v;
      rows[base + at] = r;
    }
  }
  return {
    k,
    rows: Array.from({ length: dSae }, (_, i) => rows.slice(i * k, i * k + size[i])),
    values: Array.from({ length: dSae }, (_, i) => values.slice(i * k, i * k + size[i])),
  };
}

/** One latent over a set of rows: its mean activation there (silent rows count as 0) and the share of the rows it fires on. */
export interface RowsLatent {
  latent: number;
  mean: number;
  fired: number;
}

/**
 * The `k` latents strongest over `rows` (a cell's points, say), by mean activation, strongest first (ties: the lower
 * latent first); latents silent on every one of the rows are left out.
 */
export function strongestLatents(latents: SparseLatents, rows: ArrayLike<number>, k: number): RowsLatent[] {
  const { dSae, count, rowStart, latent, value } = latents;
  if (rows.length === 0) throw new RangeError('No rows to find the strongest latents of.');
  const sum = new Float64Array(dSae);
  const fired = new Int32Array(dSae);
  for (let n = 0; n < rows.length; n++) {
    const r = rows[n];
    if (!(Number.isInteger(r) && r >= 0 && r < count)) throw new RangeError(`Row ${r} is not one of the ${count} rows encoded.`);
    for (let e = rowStart[r]; e < rowStart[r + 1]; e++) {
      sum[latent[e]] += value[e];
      fired[latent[e]]++;
    }
  }
  const live = Array.from({ length: dSae }, (_, i) => i).filter((i) => fired[i] > 0);
  live.sort((a, b) => sum[b] - sum[a] || a - b);
  return live.slice(0, k).map((i) => ({ latent: i, mean: sum[i] / rows.length, fired: fired[i] / rows.length }));
}
