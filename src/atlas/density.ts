import { cellOf } from '../compute/grid';

/** The points binned over the layout as a coloured image: what the view draws where points are denser than pixels. */
export interface DensityImage {
  /** Bins a side; the image spans the whole layout, row 0 at the top (world y down, as the view's). */
  size: number;
  /** size x size RGBA: each bin the mean colour of its points, more opaque the more points (log scale), clear where empty. */
  rgba: Uint8ClampedArray<ArrayBuffer>;
  /** Points a typical point shares its bin with, per bin area (the count-weighted mean count): how crowded the points look. */
  pointsPerBin: number;
}

/** Bins a side: about one per pixel of a fitted 1024-pixel view, where the points give way to the image. */
export const DENSITY_SIZE = 512;

/**
 * Bins the points (all, or the `subset` of indices) by their normalised layout into a size x size image.
 * `colors` gives each point's RGB (3 bytes a point) or one colour for all. One pass over the points, one over
 * the bins: a million points take a few tens of milliseconds.
 */
export function densityImage(
  layoutX: Float32Array,
  layoutY: Float32Array,
  colors: Uint8Array | readonly [number, number, number],
  subset: ArrayLike<number> | null = null,
  size = DENSITY_SIZE,
): DensityImage {
  const bins = size * size;
  const count = new Uint32Array(bins);
  const perPoint = colors instanceof Uint8Array;
  const sums = perPoint ? new Uint32Array(3 * bins) : null;
  const n = subset ? subset.length : layoutX.length;
  for (let k = 0; k < n; k++) {
    const p = subset ? subset[k] : k;
    const b = cellOf(layoutY[p], size) * size + cellOf(layoutX[p], size);
    count[b]++;
    if (sums) {
      sums[3 * b] += colors[3 * p];
      sums[3 * b + 1] += colors[3 * p + 1];
      sums[3 * b + 2] += colors[3 * p + 2];
    }
  }
  let max = 0;
  let squares = 0;
  for (let b = 0; b < bins; b++) {
    max = Math.max(max, count[b]);
    squares += count[b] * count[b];
  }
  const rgba = new Uint8ClampedArray(4 * bins);
  const scale = 1 / Math.log1p(Math.max(1, max));
  for (let b = 0; b < bins; b++) {
    const c = count[b];
    if (!c) continue;
    if (sums) {
      rgba[4 * b] = sums[3 * b] / c;
      rgba[4 * b + 1] = sums[3 * b + 1] / c;
      rgba[4 * b + 2] = sums[3 * b + 2] / c;
    } else {
      rgba[4 * b] = colors[0];
      rgba[4 * b + 1] = colors[1];
      rgba[4 * b + 2] = colors[2];
    }
    rgba[4 * b + 3] = 255 * (0.3 + 0.7 * Math.log1p(c) * scale);
  }
  return { size, rgba, pointsPerBin: n ? squares / n : 0 };
}

/** Points per screen pixel below which points are drawn alone, and above which (denser than pixels) the image alone. */
const POINTS_ALONE = 0.1;
const IMAGE_ALONE = 1;

/**
 * How much of the points (1) against the density image (0) to draw at a zoom: from how many points share a
 * pixel where the points are (the image's pointsPerBin over a bin's area on screen), blended on a log scale between.
 * `binWorld` is a bin's side in world units, `zoom` the view's (a world unit is 2^zoom pixels).
 */
export function pointShare(image: Pick<DensityImage, 'pointsPerBin'>, binWorld: number, zoom: number): number {
  const binPixels = (binWorld * 2 ** zoom) ** 2;
  const perPixel = image.pointsPerBin / binPixels;
  if (!(perPixel > 0)) return 1;
  const t = (Math.log2(IMAGE_ALONE) - Math.log2(perPixel)) / (Math.log2(IMAGE_ALONE) - Math.log2(POINTS_ALONE));
  return Math.max(0, Math.min(1, t));
}
