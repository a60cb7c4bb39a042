import { describe, expect, it } from 'vitest';
import { pointInPolygon, pointsInCell, pointsInPolygon, selectedInputs, selectedPerCell } from '../../src/atlas/selection';
import { cellMembers } from '../../src/compute/grid';
import { combineSelection } from '../../src/store/selectionSlice';
import type { Atlas } from '../../src/compute/atlas';
import { WORLD_SIZE } from '../../src/atlas/geometry';

/** An atlas with points on a 10 x 10 lattice of the layout, one input per row of the lattice. */
function latticeAtlas(): Atlas {
  const layoutX = new Float32Array(100);
  const layoutY = new Float32Array(100);
  const input = new Uint32Array(100);
  for (let r = 0; r < 10; r++) {
    for (let c = 0; c < 10; c++) {
      layoutX[r * 10 + c] = (c + 0.5) / 10;
      layoutY[r * 10 + c] = (r + 0.5) / 10;
      input[r * 10 + c] = r;
    }
  }
  const names = Array.from({ length: 10 }, (_, r) => `row ${r}`);
  return { inputs: { names }, points: { layoutX, layoutY, input, position: new Int32Array(100).fill(-1), totalBeforeSampling: 100 } } as unknown as Atlas;
}

describe('selection', () => {
  it('tests points against a polygon, concave ones included', () => {
    const square: [number, number][] = [[0, 0], [10, 0], [10, 10], [0, 10]];
    expect(pointInPolygon(5, 5, square)).toBe(true);
    expect(pointInPolygon(15, 5, square)).toBe(false);
    const u: [number, number][] = [[0, 0], [3, 0], [3, 10], [7, 10], [7, 0], [10, 0], [10, 12], [0, 12]];
    expect(pointInPolygon(5, 5, u)).toBe(false);
    expect(pointInPolygon(1, 5, u)).toBe(true);
  });

  it('selects exactly the lattice points inside a box and a triangle, as a brute-force count says', () => {
    const atlas = latticeAtlas();
    const w = WORLD_SIZE;
    const box: [number, number][] = [[0, 0], [0.5 * w, 0], [0.5 * w, 0.3 * w], [0, 0.3 * w]];
    expect(pointsInPolygon(atlas, box)).toEqual([0, 1, 2, 3, 4, 10, 11, 12, 13, 14, 20, 21, 22, 23, 24]);
    // The hypotenuse x + y = 1.04 passes between lattice points, so no point lies on the boundary.
    const triangle: [number, number][] = [[0, 0], [1.04 * w, 0], [0, 1.04 * w]];
    const inside = pointsInPolygon(atlas, triangle);
    const brute = Array.from(atlas.points.layoutX, (_, p) => p).filter((p) => atlas.points.layoutX[p] + atlas.points.layoutY[p] < 1.04);
    expect(inside).toEqual(brute);
    expect(pointsInPolygon(atlas, [[0, 0], [w, w]])).toEqual([]);
  });

  it('replaces, adds (shift) and removes (alt)', () => {
    expect(combineSelection([1, 2, 3], [5, 4, 4], 'replace')).toEqual([4, 5]);
    expect(combineSelection([1, 2, 3], [5, 2], 'add')).toEqual([1, 2, 3, 5]);
    expect(combineSelection([1, 2, 3], [2, 9], 'remove')).toEqual([1, 3]);
    // Ascending hits (the point index's) merge in one pass, with the same answers.
    expect(combineSelection([1, 4, 6], Uint32Array.of(2, 4, 7), 'add')).toEqual([1, 2, 4, 6, 7]);
    expect(combineSelection([1, 4, 6], Uint32Array.of(0, 4, 6, 8), 'remove')).toEqual([1]);
    expect(combineSelection([], Uint32Array.of(3, 8), 'replace')).toEqual([3, 8]);
    expect(combineSelection([2, 5], [], 'remove')).toEqual([2, 5]);
  });

  it('counts selected points per cell and lists their inputs', () => {
    const atlas = latticeAtlas();
    const counts = selectedPerCell(atlas, 5, [0, 1, 10, 99]);
    expect([...counts.entries()]).toEqual([['0:0', 3], ['4:4', 1]]);
    expect(selectedInputs(atlas, [0, 1, 10, 99, 98])).toEqual([0, 1, 9]);
  });
});

describe('pointsInCell', () => {
  it("finds each cell's points as the atlas's binning does (cellMembers), at every grid size", () => {
    const atlas = latticeAtlas();
    const { layoutX, layoutY } = atlas.points;
    const layout = new Float32Array(200);
    for (let p = 0; p < 100; p++) [layout[2 * p], layout[2 * p + 1]] = [layoutX[p], layoutY[p]];
    for (const g of [1, 3, 10, 20]) {
      const members = cellMembers(layout, g);
      for (let j = 0; j < g; j++) {
        for (let i = 0; i < g; i++) expect(Array.from(pointsInCell(atlas, g, i, j))).toEqual(members.get(j * g + i) ?? []);
      }
    }
  });
});
