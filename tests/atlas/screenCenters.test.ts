import { describe, expect, it } from 'vitest';
import { cellCenter } from '../../src/atlas/geometry';
import { cellScreenCenters } from '../../src/atlas/screenCenters';

describe('cellScreenCenters', () => {
  const identity = (p: [number, number]): [number, number] => p;

  it('offsets canvas pixels by the canvas position on the page', () => {
    const [x, y] = cellCenter(0, 0, 20);
    const out = cellScreenCenters([{ i: 0, j: 0, count: 3 }], 20, identity, { left: 300, top: 40, width: 2000, height: 2000 });
    expect(out).toEqual([{ x: 300 + x, y: 40 + y, i: 0, j: 0, count: 3 }]);
  });

  it('drops cells whose centre is off the canvas', () => {
    const cells = [
      { i: 0, j: 0, count: 1 },
      { i: 19, j: 19, count: 1 },
    ];
    const out = cellScreenCenters(cells, 20, identity, { left: 0, top: 0, width: 100, height: 100 });
    expect(out).toHaveLength(1);
  });

  it('lists the most populated cells first', () => {
    const cells = [
      { i: 0, j: 0, count: 2 },
      { i: 1, j: 0, count: 9 },
      { i: 2, j: 0, count: 5 },
    ];
    const out = cellScreenCenters(cells, 20, identity, { left: 0, top: 0, width: 2000, height: 2000 });
    expect(out.map((c) => c.count)).toEqual([9, 5, 2]);
  });

  it('uses the projection it is given (zoom 1 and a pan)', () => {
    const project = ([x, y]: [number, number]): [number, number] => [2 * x - 100, 2 * y];
    const [cx, cy] = cellCenter(3, 4, 40);
    expect(cellScreenCenters([{ i: 3, j: 4, count: 1 }], 40, project, { left: 0, top: 0, width: 4000, height: 4000 })[0]).toMatchObject({
      x: 2 * cx - 100,
      y: 2 * cy,
    });
  });
});
