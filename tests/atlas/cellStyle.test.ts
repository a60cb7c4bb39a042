import { describe, expect, it } from 'vitest';
import { clearLabel, countOpacity, placeLabels, strongestChannels } from '../../src/atlas/cellStyle';
import type { AtlasCell } from '../../src/compute/types';

const top = { row: 0, input: 0, position: 0, score: 1 };
const cell = (i: number, j: number, labels: [number, number][], count = labels.reduce((s, [, n]) => s + n, 0)): AtlasCell => ({
  i,
  j,
  count,
  mean: new Float32Array(2),
  labels,
  top: [top],
  exemplar: top,
});
const NAMES = ['cat', 'dog', 'bird'];

describe('countOpacity', () => {
  it('grows with the count, from faint to opaque', () => {
    expect(countOpacity(100, 100)).toBe(1);
    expect(countOpacity(1, 100)).toBeLessThan(countOpacity(10, 100));
    expect(countOpacity(0, 100)).toBeCloseTo(0.3);
  });

  it('is opaque when every cell holds one point', () => {
    expect(countOpacity(1, 1)).toBe(1);
  });
});

describe('clearLabel', () => {
  it('names a cell when one label has most of it', () => {
    expect(clearLabel(cell(0, 0, [[1, 8], [0, 2]]), NAMES)).toBe('dog');
  });

  it('stays silent for mixed, tiny or unlabelled cells', () => {
    expect(clearLabel(cell(0, 0, [[1, 5], [0, 5]]), NAMES)).toBeNull();
    expect(clearLabel(cell(0, 0, [[1, 2]]), NAMES)).toBeNull();
    expect(clearLabel(cell(0, 0, [[-1, 9]]), NAMES)).toBeNull();
  });
});

describe('placeLabels', () => {
  it('names a cluster once, at its strongest cell', () => {
    const cells = [cell(0, 0, [[0, 5]]), cell(1, 0, [[0, 9]]), cell(2, 0, [[0, 6]])];
    expect(placeLabels(cells, NAMES)).toEqual([{ i: 1, j: 0, text: 'cat' }]);
  });

  it('keeps labels of different classes apart by at least one cell', () => {
    const cells = [cell(0, 0, [[0, 9]]), cell(1, 0, [[1, 8]]), cell(2, 0, [[1, 7]])];
    expect(placeLabels(cells, NAMES)).toEqual([
      { i: 0, j: 0, text: 'cat' },
      { i: 2, j: 0, text: 'dog' },
    ]);
  });

  it('names the same class again far away', () => {
    const cells = [cell(0, 0, [[2, 9]]), cell(10, 10, [[2, 4]])];
    expect(placeLabels(cells, NAMES)).toHaveLength(2);
  });
});

describe('strongestChannels', () => {
  it('orders channels by magnitude, as their bars are drawn, keeping the sign', () => {
    expect(strongestChannels(new Float32Array([0.1, 2, -1, 0.5]), 2)).toEqual([
      { channel: 1, value: 2 },
      { channel: 2, value: -1 },
    ]);
    expect(strongestChannels(new Float32Array([-3, 1, 2]), 3).map((c) => c.channel)).toEqual([0, 2, 1]);
  });
});
