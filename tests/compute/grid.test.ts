import { describe, expect, it } from 'vitest';
import { binToGrid, buildLevels, cellOf, neuronProfile, normaliseLayout, rankByDirection, typicalKeys } from '../../src/compute/grid';
import type { ActivationTable } from '../../src/compute/types';
import { createRng, gaussian } from '../../src/lib/rng';

function randomTable(n: number, dim: number, seed: number, inputs = n): ActivationTable {
  const random = createRng(seed);
  const values = new Float32Array(n * dim).map(() => gaussian(random));
  return {
    layer: 'test',
    dim,
    count: n,
    values,
    input: Uint32Array.from({ length: n }, (_, i) => i % inputs),
    position: Int32Array.from({ length: n }, (_, i) => ((i * 3) % 5) * 5 + (i % 5)),
    positionShape: [5, 5],
    totalBeforeSampling: n,
  };
}

describe('normaliseLayout', () => {
  it('clips outliers to the 1st-99th percentile and scales into [margin, 1 - margin]', () => {
    const n = 1000;
    const layout = new Float32Array(2 * n);
    for (let i = 0; i < n; i++) {
      layout[2 * i] = i;
      layout[2 * i + 1] = -i * 10;
    }
    layout[0] = -1e6; // an outlier that must not squash the rest
    const out = normaliseLayout(layout, { margin: 0.05 });
    for (const v of out) {
      expect(v).toBeGreaterThanOrEqual(0.05 - 1e-6);
      expect(v).toBeLessThanOrEqual(0.95 + 1e-6);
    }
    expect(out[0]).toBeCloseTo(0.05, 5);
    expect(out[2 * 500]).toBeCloseTo(0.5, 1);
    expect(out[2 * 500 + 1]).toBeCloseTo(0.5, 1); // the y axis is flipped in sign but normalised alike
  });

  it('keeps a degenerate axis finite', () => {
    const out = normaliseLayout(new Float32Array([1, 1, 1, 1, 1, 1]));
    expect([...out].every(Number.isFinite)).toBe(true);
  });
});

describe('binToGrid', () => {
  it('puts every point in exactly one cell, at the right place', () => {
    const table = randomTable(500, 8, 1);
    const random = createRng(2);
    const layout = new Float32Array(1000).map(() => random());
    const level = binToGrid(table, layout, 10);
    expect(level.cells.reduce((a, c) => a + c.count, 0)).toBe(500);
    const expected = new Map<string, number>();
    for (let r = 0; r < 500; r++) {
      const key = `${cellOf(layout[2 * r], 10)},${cellOf(layout[2 * r + 1], 10)}`;
      expected.set(key, (expected.get(key) ?? 0) + 1);
    }
    for (const c of level.cells) expect(c.count).toBe(expected.get(`${c.i},${c.j}`));
    expect(cellOf(1, 10)).toBe(9); // the upper edge belongs to the last cell
  });

  it('drops cells under the minimum count', () => {
    const table = randomTable(200, 4, 3);
    const random = createRng(4);
    const layout = new Float32Array(400).map(() => random());
    const all = binToGrid(table, layout, 20);
    const kept = binToGrid(table, layout, 20, { minCount: 2 });
    expect(kept.cells.every((c) => c.count >= 2)).toBe(true);
    expect(kept.cells.length).toBe(all.cells.filter((c) => c.count >= 2).length);
  });

  it('computes the mean, the label histogram and the exemplar nearest to the mean', () => {
    const table = randomTable(6, 3, 5);
    const layout = new Float32Array([0.1, 0.1, 0.15, 0.12, 0.12, 0.18, 0.9, 0.9, 0.95, 0.95, 0.92, 0.91]);
    const level = binToGrid(table, layout, 2, { inputLabel: Int32Array.from([0, 1, 1, 2, 2, 2]) });
    const low = level.cells.find((c) => c.i === 0 && c.j === 0)!;
    for (let k = 0; k < 3; k++) {
      const mean = (table.values[k] + table.values[3 + k] + table.values[6 + k]) / 3;
      expect(low.mean[k]).toBeCloseTo(mean, 5);
    }
    expect(low.labels).toEqual([
      [1, 2],
      [0, 1],
    ]);
    const dist = (r: number) => [0, 1, 2].reduce((a, k) => a + (table.values[r * 3 + k] - low.mean[k]) ** 2, 0);
    const nearest = [0, 1, 2].sort((a, b) => dist(a) - dist(b))[0];
    expect(low.exemplar.row).toBe(nearest);
  });

  it('ranks top inputs exactly as a brute-force projection on the mean direction, one entry per input', () => {
    const table = randomTable(400, 16, 6, 50); // 8 positions for each of 50 inputs
    const random = createRng(7);
    const layout = new Float32Array(800).map(() => random());
    const level = binToGrid(table, layout, 3, { topK: 5 });
    for (const cell of level.cells) {
      const members: number[] = [];
      for (let r = 0; r < 400; r++) if (cellOf(layout[2 * r], 3) === cell.i && cellOf(layout[2 * r + 1], 3) === cell.j) members.push(r);
      const norm = Math.hypot(...cell.mean);
      const score = (r: number) => cell.mean.reduce((a, m, k) => a + m * table.values[r * 16 + k], 0) / norm;
      const bestPerInput = new Map<number, number>();
      for (const r of members) {
        const input = table.input[r];
        if (!bestPerInput.has(input) || score(r) > score(bestPerInput.get(input)!)) bestPerInput.set(input, r);
      }
      const expected = [...bestPerInput.values()].sort((a, b) => score(b) - score(a)).slice(0, 5);
      expect(cell.top.map((t) => t.row)).toEqual(expected);
      expect(new Set(cell.top.map((t) => t.input)).size).toBe(cell.top.length);
      for (const t of cell.top) {
        expect(t.score).toBeCloseTo(score(t.row), 4);
        expect(t.position).toBe(table.position[t.row]);
      }
    }
  });

  it('rankByDirection orders by projection, not by distance', () => {
    const table = randomTable(3, 2, 8);
    table.values.set([1, 0, 5, 0, 0, 1]);
    const top = rankByDirection(table, [0, 1, 2], new Float32Array([1, 0]), 3);
    expect(top.map((t) => t.row)).toEqual([1, 0, 2]);
  });

  it('builds the four Activation Atlas levels from coarse to fine', () => {
    const table = randomTable(300, 4, 9);
    const random = createRng(10);
    const levels = buildLevels(table, new Float32Array(600).map(() => random()));
    expect(levels.map((l) => l.size)).toEqual([20, 40, 80, 160]);
    for (const l of levels) expect(l.cells.reduce((a, c) => a + c.count, 0)).toBe(300);
    expect(levels[3].cells.length).toBeGreaterThan(levels[0].cells.length);
  });
});

describe('neuronProfile', () => {
  it('ranks by one channel, one point per input, against a brute-force ranking, with a histogram of all rows', () => {
    const table = randomTable(300, 8, 21, 60);
    const profile = neuronProfile(table, 5, 10, 12);
    const best = new Map<number, number>();
    for (let r = 0; r < table.count; r++) {
      const v = table.values[r * 8 + 5];
      const i = table.input[r];
      if (!best.has(i) || v > table.values[best.get(i)! * 8 + 5]) best.set(i, r);
    }
    const expected = [...best.values()].sort((a, b) => table.values[b * 8 + 5] - table.values[a * 8 + 5]).slice(0, 10);
    expect(profile.top.map((t) => t.row)).toEqual(expected);
    expect(profile.top[0].score).toBeCloseTo(table.values[expected[0] * 8 + 5], 5);
    expect(profile.histogram.counts.reduce((a, b) => a + b, 0)).toBe(300);
    expect(profile.histogram.max).toBeCloseTo(table.values[expected[0] * 8 + 5], 5);
    expect(() => neuronProfile(table, 8, 10)).toThrow(/the layer has 8/);
  });
});

describe('typicalKeys', () => {
  it('weights each key by its rows\' projection on the cell mean, not by how often it occurs', () => {
    // Five rows of key 3 near the origin, two of key 7 far along the mean direction, one of key 9 against it.
    const rows = [[0.1, 0], [0, 0.1], [0.1, 0.1], [0.05, 0], [0, 0.05], [4, 4], [5, 5], [-3, -3]];
    const table: ActivationTable = {
      ...randomTable(rows.length, 2, 1),
      values: Float32Array.from(rows.flat()),
      key: Int32Array.from([3, 3, 3, 3, 3, 7, 7, 9]),
    };
    const keys = typicalKeys(table, rows.map((_, r) => r), new Float32Array([1, 1]));
    expect(keys.map(([k]) => k)).toEqual([7, 3, 9]);
    expect(keys[2][1]).toBe(0);
    expect(binToGrid(table, new Float32Array(rows.length * 2).fill(0.5), 1).cells[0].keys?.[0][0]).toBe(7);
  });
});
