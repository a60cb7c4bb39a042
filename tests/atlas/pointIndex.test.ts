import { describe, expect, it } from 'vitest';
import { WORLD_SIZE } from '../../src/atlas/geometry';
import { buildPointIndex, pointIndexSize, pointsInPolygonIndexed, pointsNearRect } from '../../src/atlas/pointIndex';
import { pointsInPolygon } from '../../src/atlas/selection';
import type { Atlas } from '../../src/compute/atlas';
import { cellOf } from '../../src/compute/grid';
import { createRng, gaussian } from '../../src/lib/rng';

type Polygon = [number, number][];

/**
 * Points as a layout gives them and worse: seeded clusters, a uniform spread, points exactly on cell boundaries of
 * the index and of the world grid, on the layout's edges, and some outside [0, 1], near and far (clamped into border cells).
 */
function awkwardPoints(n: number, seed: number, size: number) {
  const random = createRng(seed);
  const x = new Float32Array(n);
  const y = new Float32Array(n);
  for (let p = 0; p < n; p++) {
    const kind = p % 10;
    if (kind < 5) {
      const c = p % 3;
      x[p] = 0.25 + 0.25 * c + 0.05 * gaussian(random);
      y[p] = 0.3 + 0.2 * c + 0.05 * gaussian(random);
    } else if (kind < 8) {
      x[p] = random();
      y[p] = random();
    } else if (kind === 8) {
      x[p] = Math.floor(random() * size) / size;
      y[p] = Math.floor(random() * 64) / 64;
    } else {
      x[p] = [0, 1, -0.01, 1.02, -0.5, 1.5][p % 6];
      y[p] = random() * 1.04 - 0.02;
    }
  }
  return { x, y };
}

const atlasOf = (x: Float32Array, y: Float32Array) => ({ points: { layoutX: x, layoutY: y } }) as unknown as Atlas;

/** A seeded lasso: a wobbly loop of `k` vertices around a centre, as a hand draws one (often concave). */
function lasso(random: () => number, k: number): Polygon {
  const [cx, cy] = [random() * WORLD_SIZE, random() * WORLD_SIZE];
  const radius = (0.05 + random() * 0.5) * WORLD_SIZE;
  return Array.from({ length: k }, (_, v) => {
    const a = (2 * Math.PI * v) / k;
    const r = radius * (0.4 + 0.6 * random());
    return [cx + r * Math.cos(a), cy + r * Math.sin(a)] as [number, number];
  });
}

describe('point index', () => {
  it('groups every point once by its cell, ascending within a cell', () => {
    const { x, y } = awkwardPoints(5000, 1, 20);
    const index = buildPointIndex(x, y, 20);
    expect(index.offsets[0]).toBe(0);
    expect(index.offsets[400]).toBe(5000);
    expect(Array.from(index.order).sort((a, b) => a - b)).toEqual(Array.from({ length: 5000 }, (_, p) => p));
    for (let c = 0; c < 400; c++) {
      const members = index.order.subarray(index.offsets[c], index.offsets[c + 1]);
      for (let k = 0; k < members.length; k++) {
        const p = members[k];
        expect(cellOf(y[p], 20) * 20 + cellOf(x[p], 20)).toBe(c);
        if (k > 0) expect(p).toBeGreaterThan(members[k - 1]);
      }
    }
  });

  it('sizes the grid to about 16 points a cell', () => {
    expect(pointIndexSize(1_000_000)).toBe(250);
    expect(pointIndexSize(100)).toBe(8);
    expect(pointIndexSize(1e9)).toBe(1024);
  });

  it('answers lassos exactly as the scan of every point does: seeded lassos, boxes, concave and self-crossing shapes', () => {
    const random = createRng(7);
    for (const [n, size] of [[20_000, pointIndexSize(20_000)], [3000, 8], [3000, 64]] as const) {
      const { x, y } = awkwardPoints(n, n + size, size);
      const atlas = atlasOf(x, y);
      const index = buildPointIndex(x, y, size);
      const w = WORLD_SIZE / size;
      const shapes: Polygon[] = [
        ...Array.from({ length: 30 }, () => lasso(random, 3 + Math.floor(random() * 60))),
        // A box whose sides lie on cell boundaries, and one on the points placed on them.
        [[2 * w, 3 * w], [5 * w, 3 * w], [5 * w, 6 * w], [2 * w, 6 * w]],
        [[0, 0], [WORLD_SIZE / 2, 0], [WORLD_SIZE / 2, WORLD_SIZE / 4], [0, WORLD_SIZE / 4]],
        // The whole world and beyond (points clamped outside [0, 1] included), a U, a bow tie.
        [[-50, -50], [WORLD_SIZE + 50, -50], [WORLD_SIZE + 50, WORLD_SIZE + 50], [-50, WORLD_SIZE + 50]],
        [[-300, -300], [WORLD_SIZE + 300, -300], [WORLD_SIZE + 300, WORLD_SIZE + 300], [-300, WORLD_SIZE + 300]],
        [[100, 100], [300, 100], [300, 900], [700, 900], [700, 100], [900, 100], [900, 950], [100, 950]],
        [[100, 100], [900, 900], [900, 100], [100, 900]],
        // Degenerate: a sliver and a line.
        [[10, 10], [1000, 12], [10, 14]],
        [[0, 0], [WORLD_SIZE, WORLD_SIZE], [0, 0]],
      ];
      for (const polygon of shapes) {
        const expected = pointsInPolygon(atlas, polygon);
        expect(Array.from(pointsInPolygonIndexed(index, x, y, polygon))).toEqual(expected);
      }
    }
  });

  it('takes the cells wholly inside a lasso without testing their points', () => {
    const n = 200_000;
    const { x, y } = awkwardPoints(n, 3, 112);
    const index = buildPointIndex(x, y);
    const box: Polygon = [[100, 100], [900, 100], [900, 900], [100, 900]];
    const stats = { tested: 0 };
    const hits = pointsInPolygonIndexed(index, x, y, box, stats);
    expect(Array.from(hits)).toEqual(pointsInPolygon(atlasOf(x, y), box));
    expect(hits.length).toBeGreaterThan(n / 2);
    // Only the points near the box's edges are tested: a few percent of those it takes.
    expect(stats.tested).toBeLessThan(hits.length / 10);
  });

  it('answers nothing for fewer than three vertices or a lasso outside the layout', () => {
    const { x, y } = awkwardPoints(1000, 4, 16);
    const index = buildPointIndex(x, y, 16);
    expect(pointsInPolygonIndexed(index, x, y, [[0, 0], [WORLD_SIZE, WORLD_SIZE]]).length).toBe(0);
    expect(pointsInPolygonIndexed(index, x, y, [[3000, 3000], [3100, 3000], [3100, 3100]]).length).toBe(0);
  });

  it('gathers the points of the cells under a rectangle: all the points inside it, and only those of cells it meets', () => {
    const { x, y } = awkwardPoints(20_000, 5, 32);
    const index = buildPointIndex(x, y, 32);
    const [x0, y0, x1, y1] = [0.21, 0.4, 0.55, 0.62];
    const near = new Set(pointsNearRect(index, x0, y0, x1, y1));
    for (let p = 0; p < x.length; p++) {
      if (x[p] >= x0 && x[p] <= x1 && y[p] >= y0 && y[p] <= y1) expect(near.has(p)).toBe(true);
      const meets = cellOf(x[p], 32) >= cellOf(x0, 32) && cellOf(x[p], 32) <= cellOf(x1, 32) && cellOf(y[p], 32) >= cellOf(y0, 32) && cellOf(y[p], 32) <= cellOf(y1, 32);
      expect(near.has(p)).toBe(meets);
    }
    expect(pointsNearRect(index, 0, 0, 1, 1).length).toBe(x.length);
  });
});
