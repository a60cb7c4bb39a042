import { describe, expect, it } from 'vitest';
import { LayerMoments } from '../../../src/compute/stream/layerMoments';
import { StreamRecorder, type StreamLayer } from '../../../src/compute/stream/recorder';
import { rowKey, shardOf, windowOrdinal } from '../../../src/compute/stream/rowOrder';
import { histogramBin, histogramRange, HISTOGRAM_BINS } from '../../../src/compute/stream/unitStats';
import { createRng } from '../../../src/lib/rng';

/** Rows of a synthetic recording: input i has `positions` rows; values drawn with ties on purpose (rounded to 0.25). */
function rows(inputs: number, positions: number, dim: number, seed = 1) {
  const random = createRng(seed);
  const data = new Float32Array(inputs * positions * dim);
  for (let k = 0; k < data.length; k++) data[k] = Math.round((random() * 8 - 4) * 4) / 4;
  return data;
}

const layer = (dim: number): StreamLayer => ({ name: 'l', shape: [5, dim], positionShape: [5] });

/** Feeds rows of the given inputs, in the given order, into a recorder. */
function feed(recorder: StreamRecorder, data: Float32Array, inputs: number[], positions: number, dim: number) {
  for (const i of inputs) for (let p = 0; p < positions; p++) recorder.add(i, p, data, (i * positions + p) * dim, i * 10 + p);
}

describe('StreamRecorder', () => {
  const dim = 6;
  const positions = 5;
  const inputs = 300;
  const data = rows(inputs, positions, dim);
  const all = Array.from({ length: inputs }, (_, i) => i);

  it('keeps every unit’s exact top rows, ties broken by input then position, as a brute-force sort does', () => {
    const recorder = new StreamRecorder(layer(dim), { seed: 3, sampleRows: 50, unitTopK: 7 });
    feed(recorder, data, [...all].reverse(), positions, dim);
    const { units } = recorder.finish([]);
    for (let u = 0; u < dim; u++) {
      const brute = all
        .flatMap((i) => Array.from({ length: positions }, (_, p) => [i, p, data[(i * positions + p) * dim + u]] as [number, number, number]))
        .sort((a, b) => b[2] - a[2] || a[0] - b[0] || a[1] - b[1])
        .slice(0, 7);
      expect(units.top[u]).toEqual(brute);
    }
  });

  it('gives statistics equal to a float64 brute force', () => {
    const recorder = new StreamRecorder(layer(dim), { seed: 3, sampleRows: 50 });
    feed(recorder, data, all, positions, dim);
    const { units } = recorder.finish([]);
    expect(units.rows).toBe(inputs * positions);
    for (let u = 0; u < dim; u++) {
      const column = Array.from({ length: inputs * positions }, (_, r) => data[r * dim + u]);
      const mean = column.reduce((a, b) => a + b, 0) / column.length;
      const std = Math.sqrt(column.reduce((a, b) => a + (b - mean) ** 2, 0) / (column.length - 1));
      expect(units.mean[u]).toBeCloseTo(mean, 5);
      expect(units.std[u]).toBeCloseTo(std, 5);
      expect(units.min[u]).toBe(Math.min(...column));
      expect(units.max[u]).toBe(Math.max(...column));
      expect(units.count[u]).toBe(column.length);
    }
  });

  it('keeps the same sample, top rows and statistics for any order and any split into merged shards', () => {
    const one = new StreamRecorder(layer(dim), { seed: 9, sampleRows: 40, keyed: true });
    feed(one, data, all, positions, dim);
    const shards = [0, 1, 2].map(() => new StreamRecorder(layer(dim), { seed: 9, sampleRows: 40, keyed: true }));
    for (const i of [...all].reverse()) feed(shards[shardOf(`input ${i}`, 3)], data, [i], positions, dim);
    const merged = new StreamRecorder(layer(dim), { seed: 9, sampleRows: 40, keyed: true });
    for (const shard of shards) merged.merge(shard.state);
    const a = one.finish([]);
    const b = merged.finish([]);
    expect(Array.from(b.table.input)).toEqual(Array.from(a.table.input));
    expect(Array.from(b.table.position)).toEqual(Array.from(a.table.position));
    expect(Array.from(b.table.key!)).toEqual(Array.from(a.table.key!));
    expect(b.table.values).toEqual(a.table.values);
    expect(b.units).toEqual(a.units);
    expect(b.table.totalBeforeSampling).toBe(inputs * positions);
  });

  it('keeps the rows with the smallest keys, as a brute-force sort does, growing its arrays only as rows come', () => {
    const many = rows(1000, 5, 2, 8);
    const recorder = new StreamRecorder({ name: 'l', shape: [5, 2], positionShape: [5] }, { seed: 5, sampleRows: 3000 });
    const keys: [number, number, number][] = [];
    for (let i = 0; i < 1000; i++) {
      for (let p = 0; p < 5; p++) {
        recorder.add(i, p, many, (i * 5 + p) * 2);
        keys.push([rowKey(5, i, p), i, p]);
      }
      // 500 rows in, the arrays hold 1,024 rows, not the 3,000-row capacity.
      if (i === 99) expect(recorder.state.sample.key.length).toBe(1024);
    }
    const kept = keys.sort((a, b) => a[0] - b[0]).slice(0, 3000).sort((a, b) => a[1] - b[1] || a[2] - b[2]);
    const { table } = recorder.finish([]);
    expect(Array.from(table.input)).toEqual(kept.map((k) => k[1]));
    expect(Array.from(table.position)).toEqual(kept.map((k) => k[2]));
    expect(Array.from(table.values.subarray(0, 4))).toEqual(Array.from(many.subarray((kept[0][1] * 5 + kept[0][2]) * 2, (kept[0][1] * 5 + kept[0][2]) * 2 + 2)).concat(Array.from(many.subarray((kept[1][1] * 5 + kept[1][2]) * 2, (kept[1][1] * 5 + kept[1][2]) * 2 + 2))));
  });

  it('samples uniformly: every input is about equally likely to be kept', () => {
    const hits = new Float64Array(10);
    for (let seed = 0; seed < 400; seed++) {
      const recorder = new StreamRecorder({ name: 'l', shape: [1], positionShape: [] }, { seed, sampleRows: 3 });
      const one = new Float32Array([1]);
      for (let i = 0; i < 10; i++) recorder.add(i, -1, one, 0);
      for (const i of recorder.finish([]).table.input) hits[i]++;
    }
    // 1,200 draws over 10 inputs: 120 each expected; a binomial sd of ~10.
    for (const h of hits) expect(Math.abs(h - 120)).toBeLessThan(45);
  });

  it('names the sample in a notice and maps ordinals to the atlas’s inputs', () => {
    const recorder = new StreamRecorder(layer(dim), { seed: 1, sampleRows: 10, ordinalOf: (i) => windowOrdinal(i, 2) });
    feed(recorder, data, all.slice(0, 20), positions, dim);
    const notices: string[] = [];
    const { table, units } = recorder.finish(notices, all.slice(0, 20).map((i) => windowOrdinal(i, 2)));
    expect(notices[0]).toMatch(/Recorded 100 activations; the layout shows a seeded sample of 10/);
    expect(Math.max(...table.input)).toBeLessThan(20);
    expect(units.top[0].every(([input]) => input < 20)).toBe(true);
    expect(() => recorder.finish([], [1, 2, 3])).toThrow(/No input has ordinal/);
  });

  it('skips NaN in the rankings and statistics', () => {
    const recorder = new StreamRecorder({ name: 'l', shape: [2], positionShape: [] }, { seed: 1, sampleRows: 4, unitTopK: 2 });
    recorder.add(0, -1, new Float32Array([NaN, 1]), 0);
    recorder.add(1, -1, new Float32Array([2, 3]), 0);
    const { units } = recorder.finish([]);
    expect(units.top[0]).toEqual([[1, -1, 2]]);
    expect(units.count).toEqual([1, 2]);
  });
});

describe('LayerMoments', () => {
  it('gives the mean and covariance of a float64 brute force, and shards add up', () => {
    const dim = 4;
    const data = rows(50, 1, dim, 5);
    const whole = new LayerMoments(dim);
    const parts = [new LayerMoments(dim), new LayerMoments(dim)];
    for (let r = 0; r < 50; r++) {
      whole.addRow(data, r * dim);
      parts[r % 2].addRow(data, r * dim);
    }
    parts[0].merge(parts[1].state);
    const mean = Array.from({ length: dim }, (_, i) => Array.from({ length: 50 }, (_, r) => data[r * dim + i]).reduce((a, b) => a + b) / 50);
    const cov = whole.covariance();
    for (let i = 0; i < dim; i++) {
      expect(whole.mean()[i]).toBeCloseTo(mean[i], 10);
      for (let j = 0; j < dim; j++) {
        let c = 0;
        for (let r = 0; r < 50; r++) c += (data[r * dim + i] - mean[i]) * (data[r * dim + j] - mean[j]);
        expect(cov[i * dim + j]).toBeCloseTo(c / 49, 9);
        expect(parts[0].covariance()[i * dim + j]).toBeCloseTo(c / 49, 9);
      }
    }
  });
});

describe('row order', () => {
  it('keys rows by seed, ordinal and position only', () => {
    expect(rowKey(1, 5, 2)).toBe(rowKey(1, 5, 2));
    expect(rowKey(1, 5, 2)).not.toBe(rowKey(2, 5, 2));
    expect(rowKey(1, 5, 2)).not.toBe(rowKey(1, 5, -1));
    expect(rowKey(1, windowOrdinal(3, 0), 0)).not.toBe(rowKey(1, windowOrdinal(2, 0), 0));
    expect(Number.isSafeInteger(rowKey(7, 2 ** 40, 100))).toBe(true);
  });

  it('puts every value in the histogram bin whose range holds it', () => {
    for (const v of [1e-9, -1e-9, 1e-6, 0.3, -0.3, 1, -1, 999, 1e7, -1e7]) {
      const bin = histogramBin(v);
      expect(bin).toBeGreaterThanOrEqual(0);
      expect(bin).toBeLessThan(HISTOGRAM_BINS);
      const [low, high] = histogramRange(bin);
      // Positive bins are [low, high), negative ones (low, high]: |v| bins are [edge, next edge).
      expect(v > 0 ? v >= low && v < high : v > low && v <= high).toBe(true);
    }
  });
});
