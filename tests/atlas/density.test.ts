import { describe, expect, it } from 'vitest';
import { densityImage, pointShare } from '../../src/atlas/density';

describe('density image', () => {
  it('bins points by their layout, row 0 at the top, each bin the mean colour of its points and more opaque the more points', () => {
    const x = Float32Array.of(0.1, 0.12, 0.9, 0.9, 0.9, 0.5);
    const y = Float32Array.of(0.05, 0.06, 0.95, 0.95, 0.95, 0.5);
    const colors = Uint8Array.of(200, 0, 0, 0, 0, 100, 0, 255, 0, 0, 255, 0, 0, 255, 0, 9, 9, 9);
    const image = densityImage(x, y, colors, null, 4);
    const at = (i: number, j: number) => Array.from(image.rgba.subarray(4 * (j * 4 + i), 4 * (j * 4 + i) + 4));
    // Bin (0, 0): two points, their colours averaged.
    expect(at(0, 0).slice(0, 3)).toEqual([100, 0, 50]);
    expect(at(3, 3).slice(0, 3)).toEqual([0, 255, 0]);
    expect(at(2, 2).slice(0, 3)).toEqual([9, 9, 9]);
    // The fullest bin is opaque, fewer points fade, an empty bin is clear.
    expect(at(3, 3)[3]).toBe(255);
    expect(at(0, 0)[3]).toBeGreaterThan(at(2, 2)[3]);
    expect(at(2, 2)[3]).toBeGreaterThan(0);
    expect(at(1, 0)).toEqual([0, 0, 0, 0]);
    // A typical point shares its bin with (2*2 + 3*3 + 1*1) / 6 points.
    expect(image.pointsPerBin).toBeCloseTo(14 / 6);
  });

  it('bins a subset in one colour', () => {
    const x = Float32Array.of(0.1, 0.9, 0.9);
    const y = Float32Array.of(0.1, 0.9, 0.9);
    const image = densityImage(x, y, [255, 170, 40], [1, 2], 2);
    expect(Array.from(image.rgba.subarray(0, 4))).toEqual([0, 0, 0, 0]);
    expect(Array.from(image.rgba.subarray(12, 16))).toEqual([255, 170, 40, 255]);
    expect(image.pointsPerBin).toBe(2);
  });

  it('draws points alone where they are sparse on screen, the image alone where they crowd pixels, and blends between', () => {
    const crowded = { pointsPerBin: 400 };
    // A bin of 2 world units: at zoom 0 it is 4 pixels, 100 points a pixel.
    expect(pointShare(crowded, 2, 0)).toBe(0);
    // Zooming in spreads them: 4 zoom steps later a pixel holds 100 / 256 of a point, 7 steps later 1/164.
    const mid = pointShare(crowded, 2, 4);
    expect(mid).toBeGreaterThan(0);
    expect(mid).toBeLessThan(1);
    expect(pointShare(crowded, 2, 7)).toBe(1);
    expect(pointShare(crowded, 2, 5)).toBeGreaterThan(mid);
    expect(pointShare({ pointsPerBin: 0 }, 2, 0)).toBe(1);
  });
});
