import { describe, expect, it } from 'vitest';
import { patchRegion, positionRegion, toPixels } from '../../src/renderers/patch';

describe('positionRegion', () => {
  it('maps layer position (x, y) to [x/w, (x+1)/w) of the input', () => {
    expect(positionRegion(2, 5, 7, 7)).toEqual({ x: 2 / 7, y: 5 / 7, width: 1 / 7, height: 1 / 7 });
  });

  it('uses the whole input for a pooled row', () => {
    expect(positionRegion(-1, -1, 7, 7)).toEqual({ x: 0, y: 0, width: 1, height: 1 });
  });
});

describe('patchRegion', () => {
  it('is three positions wide, centred on the position', () => {
    expect(patchRegion(3, 3, 7, 7)).toEqual({ x: 2 / 7, y: 2 / 7, width: 3 / 7, height: 3 / 7 });
  });

  it('shifts inside the input at the borders instead of shrinking', () => {
    expect(patchRegion(0, 6, 7, 7)).toEqual({ x: 0, y: 4 / 7, width: 3 / 7, height: 3 / 7 });
  });

  it('never exceeds the grid when the grid is narrower than the span', () => {
    expect(patchRegion(1, 0, 2, 1)).toEqual({ x: 0, y: 0, width: 1, height: 1 });
  });

  it('always contains the position region', () => {
    for (let x = 0; x < 13; x++) {
      const p = patchRegion(x, x, 13, 13);
      const r = positionRegion(x, x, 13, 13);
      expect(p.x).toBeLessThanOrEqual(r.x + 1e-12);
      expect(p.x + p.width).toBeGreaterThanOrEqual(r.x + r.width - 1e-12);
    }
  });
});

describe('toPixels', () => {
  it('crops a 3-of-7 patch of a 28 px thumbnail as 12 px', () => {
    expect(toPixels(patchRegion(3, 3, 7, 7), 28, 28)).toEqual({ x: 8, y: 8, width: 12, height: 12 });
  });

  it('keeps at least one pixel and stays inside the image', () => {
    const r = toPixels({ x: 0.99, y: 0.99, width: 0.001, height: 0.001 }, 10, 10);
    expect(r).toEqual({ x: 9, y: 9, width: 1, height: 1 });
  });
});
