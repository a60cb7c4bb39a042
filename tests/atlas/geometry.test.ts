import { describe, expect, it } from 'vitest';
import { cellAt, cellCenter, cellWorldSize, fitZoom, gridSizeForZoom, WORLD_SIZE } from '../../src/atlas/geometry';

const SIZES = [20, 40, 80, 160];

describe('gridSizeForZoom', () => {
  it('shows the coarsest grid when the whole atlas fits a typical viewport', () => {
    expect(gridSizeForZoom(fitZoom(1100, 860), SIZES)).toBe(20);
  });

  it('steps 20 -> 40 -> 80 -> 160 as the zoom doubles', () => {
    const z = fitZoom(1100, 860);
    expect([0, 1, 2, 3].map((k) => gridSizeForZoom(z + k, SIZES))).toEqual([20, 40, 80, 160]);
  });

  it('never goes below the coarsest or above the finest level', () => {
    expect(gridSizeForZoom(-10, SIZES)).toBe(20);
    expect(gridSizeForZoom(10, SIZES)).toBe(160);
  });

  it('keeps the chosen cells at least the minimum width on screen', () => {
    for (let zoom = -1; zoom <= 3; zoom += 0.25) {
      const size = gridSizeForZoom(zoom, SIZES, 36);
      if (size !== 20) expect(cellWorldSize(size) * 2 ** zoom).toBeGreaterThanOrEqual(36);
    }
  });

  it('accepts levels in any order', () => {
    expect(gridSizeForZoom(2, [160, 20, 80, 40])).toBe(gridSizeForZoom(2, SIZES));
  });
});

describe('cell geometry', () => {
  it('puts the centre of cell (i, j) half a cell in from its corner', () => {
    expect(cellCenter(0, 0, 20)).toEqual([WORLD_SIZE / 40, WORLD_SIZE / 40]);
    expect(cellCenter(19, 3, 20)).toEqual([19.5 * (WORLD_SIZE / 20), 3.5 * (WORLD_SIZE / 20)]);
  });

  it('finds the cell under a world point, and nothing outside the grid', () => {
    expect(cellAt(...cellCenter(7, 12, 40), 40)).toEqual({ i: 7, j: 12 });
    expect(cellAt(-1, 5, 40)).toBeNull();
    expect(cellAt(5, WORLD_SIZE, 40)).toBeNull();
  });

  it('fits the atlas inside the smaller side, less the margin', () => {
    expect(WORLD_SIZE * 2 ** fitZoom(800, 600, 20)).toBeCloseTo(560);
  });
});
