/**
 * How an image looks, measured the same way for icons and for the dataset's own images, so that an icon which
 * wins its objective while washed out (low contrast, pastel colour) shows it in figures (issue 21).
 * Images are RGBA bytes; alpha is ignored.
 */

/** Standard deviation of the pixels' R, G and B values together, in byte units (0 for a flat image). */
export function contrast(rgba: ArrayLike<number>): number {
  let sum = 0;
  let squares = 0;
  let n = 0;
  for (let p = 0; p < rgba.length; p += 4) {
    for (let c = 0; c < 3; c++) {
      const v = rgba[p + c];
      sum += v;
      squares += v * v;
      n++;
    }
  }
  if (n === 0) return NaN;
  const mean = sum / n;
  return Math.sqrt(Math.max(0, squares / n - mean * mean));
}

/**
 * Hasler and Süsstrunk's colourfulness (2003): with rg = R − G and yb = (R + G) / 2 − B per pixel,
 * M = sqrt(σ_rg² + σ_yb²) + 0.3 · sqrt(μ_rg² + μ_yb²), in byte units. 0 for any grey image; natural photos
 * mostly fall between 15 ("slightly colourful") and 80.
 */
export function colourfulness(rgba: ArrayLike<number>): number {
  let n = 0;
  let rg = 0;
  let yb = 0;
  let rg2 = 0;
  let yb2 = 0;
  for (let p = 0; p < rgba.length; p += 4) {
    const a = rgba[p] - rgba[p + 1];
    const b = (rgba[p] + rgba[p + 1]) / 2 - rgba[p + 2];
    rg += a;
    yb += b;
    rg2 += a * a;
    yb2 += b * b;
    n++;
  }
  if (n === 0) return NaN;
  const [mRg, mYb] = [rg / n, yb / n];
  const variance = Math.max(0, rg2 / n - mRg * mRg) + Math.max(0, yb2 / n - mYb * mYb);
  return Math.sqrt(variance) + 0.3 * Math.hypot(mRg, mYb);
}

/** The first quartile, median and third quartile (linear interpolation between order statistics). */
export function quartiles(values: ArrayLike<number>): [number, number, number] {
  const sorted = Float64Array.from(values).sort();
  const at = (q: number) => {
    if (sorted.length === 0) return NaN;
    const position = q * (sorted.length - 1);
    const low = Math.floor(position);
    const high = Math.min(sorted.length - 1, low + 1);
    return sorted[low] + (sorted[high] - sorted[low]) * (position - low);
  };
  return [at(0.25), at(0.5), at(0.75)];
}

/**
 * A contrast stretch: the values below the `clip` quantile and above the 1 − `clip` quantile of all R, G and B
 * values together go to 0 and 255, those between linearly (one map for the three channels, so hues keep
 * their balance). A flat image is returned unchanged.
 */
export function stretchContrast(rgba: Uint8ClampedArray, clip: number): Uint8ClampedArray {
  const values = new Uint32Array(256);
  for (let p = 0; p < rgba.length; p += 4) for (let c = 0; c < 3; c++) values[rgba[p + c]]++;
  const total = (rgba.length / 4) * 3;
  // The smallest value with at least a fraction q of all values at or below it (q = 0: the least, 1: the largest).
  const quantile = (q: number) => {
    const wanted = Math.max(1, Math.ceil(q * total));
    let seen = 0;
    for (let v = 0; v < 256; v++) {
      seen += values[v];
      if (seen >= wanted) return v;
    }
    return 255;
  };
  const [low, high] = [quantile(clip), quantile(1 - clip)];
  if (high <= low) return rgba.slice();
  const out = new Uint8ClampedArray(rgba.length);
  for (let p = 0; p < rgba.length; p += 4) {
    for (let c = 0; c < 3; c++) out[p + c] = Math.round((255 * (rgba[p + c] - low)) / (high - low));
    out[p + 3] = rgba[p + 3];
  }
  return out;
}
