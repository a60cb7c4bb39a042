import { describe, expect, it } from 'vitest';
import { cellPixelRect, labelFontPx } from '../../src/atlas/png';

describe('cellPixelRect', () => {
  it('tiles the image exactly, with no gaps or overlaps, for sizes that do not divide', () => {
    for (const [grid, size] of [
      [20, 1024],
      [160, 1024],
      [40, 4096],
      [80, 2048],
    ]) {
      let x = 0;
      for (let i = 0; i < grid; i++) {
        const r = cellPixelRect(i, 0, grid, size);
        expect(r.x).toBe(x);
        x += r.width;
      }
      expect(x).toBe(size);
    }
  });

  it('places cell (i, j) by column i and row j', () => {
    expect(cellPixelRect(3, 1, 20, 2000)).toEqual({ x: 300, y: 100, width: 100, height: 100 });
  });
});

describe('labelFontPx', () => {
  it('scales with the cell and never drops below 10 px', () => {
    expect(labelFontPx(20, 4096)).toBe(41);
    expect(labelFontPx(160, 1024)).toBe(10);
  });
});
