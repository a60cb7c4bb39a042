import { describe, expect, it } from 'vitest';
import { colourfulness, contrast, quartiles, stretchContrast } from '../../src/featureVis/iconMeasures';
import { topIndices } from '../../src/lib/order';
import { createRng } from '../../src/lib/rng';

/** RGBA bytes of `pixels` [r, g, b] triples, alpha 255. */
const rgba = (pixels: [number, number, number][]) => Uint8ClampedArray.from(pixels.flatMap(([r, g, b]) => [r, g, b, 255]));

describe('contrast', () => {
  it('is 0 for a flat image and half the gap for a two-level one', () => {
    expect(contrast(rgba([[90, 90, 90], [90, 90, 90]]))).toBe(0);
    // Half the values 0, half 200: standard deviation 100 (alpha is ignored).
    expect(contrast(rgba([[0, 0, 0], [200, 200, 200]]))).toBeCloseTo(100, 10);
  });

  it('equals a two-pass float64 standard deviation on random bytes', () => {
    const random = createRng(3);
    const pixels = Array.from({ length: 500 }, () => [0, 1, 2].map(() => Math.floor(256 * random())) as [number, number, number]);
    const values = pixels.flat();
    const mean = values.reduce((s, v) => s + v, 0) / values.length;
    const sd = Math.sqrt(values.reduce((s, v) => s + (v - mean) ** 2, 0) / values.length);
    expect(contrast(rgba(pixels))).toBeCloseTo(sd, 8);
  });
});

describe('colourfulness', () => {
  it('is 0 for any grey image', () => {
    expect(colourfulness(rgba([[0, 0, 0], [128, 128, 128], [255, 255, 255]]))).toBe(0);
  });

  it('is 0.3 · |μ| for a flat colour: pure red has rg 255 and yb 127.5', () => {
    expect(colourfulness(rgba([[255, 0, 0], [255, 0, 0]]))).toBeCloseTo(0.3 * Math.hypot(255, 127.5), 10);
  });

  it('adds the spread: half red, half green has μ 0 on rg and σ 255', () => {
    // rg is +255 and -255 (σ 255, μ 0); yb is 127.5 for both (σ 0, μ 127.5).
    expect(colourfulness(rgba([[255, 0, 0], [0, 255, 0]]))).toBeCloseTo(255 + 0.3 * 127.5, 10);
  });

  it('ranks a saturated image above a pastel version of it', () => {
    const random = createRng(5);
    const vivid = Array.from({ length: 200 }, () => [0, 1, 2].map(() => Math.floor(256 * random())) as [number, number, number]);
    const pastel = vivid.map((p) => p.map((v) => Math.round(128 + (v - 128) * 0.3)) as [number, number, number]);
    expect(colourfulness(rgba(pastel))).toBeLessThan(0.4 * colourfulness(rgba(vivid)));
  });
});

describe('quartiles and topIndices', () => {
  it('interpolates between order statistics', () => {
    expect(quartiles([4, 1, 3, 2, 5])).toEqual([2, 3, 4]);
    expect(quartiles([1, 2, 3, 4])).toEqual([1.75, 2.5, 3.25]);
    expect(quartiles([]).every(Number.isNaN)).toBe(true);
  });

  it('returns the k largest, largest first, as brute force does', () => {
    const random = createRng(9);
    const scores = Array.from({ length: 50 }, () => Math.round(random() * 20));
    const brute = scores.map((s, i) => [s, i]).sort((a, b) => b[0] - a[0] || a[1] - b[1]).slice(0, 5).map(([, i]) => i);
    expect(topIndices(scores, 5)).toEqual(brute);
  });
});

describe('stretchContrast', () => {
  it('maps the clip quantiles to 0 and 255 with one map for all channels, raising contrast and keeping flat images', () => {
    const random = createRng(13);
    const dull = rgba(Array.from({ length: 400 }, () => [0, 1, 2].map(() => 100 + Math.floor(40 * random())) as [number, number, number]));
    const stretched = stretchContrast(dull, 0);
    const channelValues = Array.from(stretched).filter((_, k) => k % 4 !== 3);
    expect(Math.min(...channelValues)).toBe(0);
    expect(Math.max(...channelValues)).toBe(255);
    // Linear: 100 -> 0, 139 -> 255, so contrast grows by 255 / 39.
    expect(contrast(stretched)).toBeCloseTo((contrast(dull) * 255) / 39, 0);
    // Order of values, within and across channels, is kept.
    expect(stretched[0] < stretched[1]).toBe(dull[0] < dull[1]);
    const flat = rgba([[70, 70, 70], [70, 70, 70]]);
    expect(Array.from(stretchContrast(flat, 0.01))).toEqual(Array.from(flat));
  });
});
