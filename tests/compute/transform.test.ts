import { describe, expect, it } from 'vitest';
import { DEFAULT_ATLAS_PARAMS, layoutAtlas, type AtlasParams, type LayoutColumns } from '../../src/compute/atlas';
import { cellOf } from '../../src/compute/grid';
import { exactKnn } from '../../src/compute/knn';
import { layoutQuality } from '../../src/compute/quality';
import { fitLayout, placeAll, projectAtScale, type LayoutFit } from '../../src/compute/scaleLayout';
import { buildSearchIndex, IndexSearcher } from '../../src/compute/searchIndex';
import type { ActivationTable } from '../../src/compute/types';
import { mixture, structuredMixture } from './mixture';

const options = (method: 'umap' | 'tsne') => ({ method, metric: 'euclidean', pcaDims: 0, seed: 5, iterations: method === 'umap' ? 150 : 300 }) as const;

/** Places every row of data into the fit, numbered by its row. */
async function placeRows(fit: LayoutFit, data: Float32Array, n: number): Promise<Float32Array> {
  const layout = new Float32Array(2 * n);
  await placeAll(fit, data, Int32Array.from({ length: n }, (_, i) => i), layout, () => {});
  return layout;
}

describe('search index', () => {
  it('finds the exact 15 nearest fitted rows for at least 95% of queries (brute force as oracle)', async () => {
    const n = 4000;
    const d = 16;
    const data = structuredMixture(n + 500, d, 2);
    const fitted = data.subarray(0, n * d);
    const graph = await exactKnn(fitted, n, d, 14);
    const index = buildSearchIndex(fitted, n, d, graph, 1);
    const searcher = new IndexSearcher(index, 15);
    let hits = 0;
    for (let q = 0; q < 500; q++) {
      const offset = (n + q) * d;
      searcher.search(data, offset);
      const truth = Array.from({ length: n }, (_, j) => {
        let s = 0;
        for (let c = 0; c < d; c++) s += (data[offset + c] - fitted[j * d + c]) ** 2;
        return [s, j] as const;
      })
        .sort((a, b) => a[0] - b[0] || a[1] - b[1])
        .slice(0, 15)
        .map(([, j]) => j);
      const found = new Set(searcher.rows);
      hits += truth.filter((j) => found.has(j)).length;
      // Nearest first.
      for (let s = 1; s < 15; s++) expect(searcher.keys[s]).toBeGreaterThanOrEqual(searcher.keys[s - 1]);
    }
    expect(hits / (500 * 15)).toBeGreaterThan(0.95);
  });
});

describe('placing rows into a fitted layout', () => {
  for (const method of ['umap', 'tsne'] as const) {
    it(`${method}: the fitted rows placed again land exactly where the fit put them`, async () => {
      const n = 1500;
      const d = 10;
      const { data } = mixture(n, d, 5, 8);
      const fit = await fitLayout(data, n, d, options(method));
      expect(await placeRows(fit, data, n)).toEqual(fit.fitted.embedding);
    });

    it(`${method}: a slightly perturbed fitted row lands beside its original, in the same cluster`, async () => {
      const n = 1500;
      const d = 10;
      const { data, label } = mixture(n, d, 5, 9);
      const fit = await fitLayout(data, n, d, options(method));
      const nudged = data.map((v, k) => v + 0.05 * Math.sin(k));
      const placed = await placeRows(fit, nudged, n);
      const e = fit.fitted.embedding;
      let extent = 0;
      for (let v = 0; v < e.length; v++) extent = Math.max(extent, Math.abs(e[v]));
      let near = 0;
      let sameCluster = 0;
      for (let i = 0; i < n; i++) {
        if (Math.hypot(placed[2 * i] - e[2 * i], placed[2 * i + 1] - e[2 * i + 1]) < 0.05 * extent) near++;
        // The nearest fitted point to where the row landed belongs to the row's own cluster.
        let best = -1;
        let bestD = Infinity;
        for (let j = 0; j < n; j++) {
          const dd = (placed[2 * i] - e[2 * j]) ** 2 + (placed[2 * i + 1] - e[2 * j + 1]) ** 2;
          if (dd < bestD) [best, bestD] = [j, dd];
        }
        if (label[best] === label[i]) sameCluster++;
      }
      expect(near / n).toBeGreaterThan(0.9);
      expect(sameCluster / n).toBeGreaterThan(0.98);
    });
  }

  it('places every row the same however the rows are batched or numbered runs are split', async () => {
    const n = 3000;
    const d = 12;
    const data = structuredMixture(n, d, 4);
    const whole = await projectAtScale(data, n, d, options('umap'), { fitSample: 1000 });
    const fit = whole.fit!;
    // The placed rows again, in two halves in reverse order: each keeps its own number, so its own place.
    const placed = Int32Array.from({ length: n }, (_, i) => i).filter((i) => !whole.sample!.includes(i));
    const layout = new Float32Array(2 * n);
    const half = placed.length >> 1;
    await placeAll(fit, data, placed.subarray(half), layout, () => {});
    await placeAll(fit, data, placed.subarray(0, half), layout, () => {});
    for (const row of placed) {
      expect(layout[2 * row]).toBe(whole.layout[2 * row]);
      expect(layout[2 * row + 1]).toBe(whole.layout[2 * row + 1]);
    }
  });

  it('keeps most of a full fit\'s neighbour recall when fitting a quarter of the rows', async () => {
    const n = 6000;
    const d = 32;
    const data = structuredMixture(n, d, 6);
    const full = await projectAtScale(data, n, d, options('umap'), { fitSample: n });
    const scaled = await projectAtScale(data, n, d, options('umap'), { fitSample: 1500 });
    expect(scaled.sample).toHaveLength(1500);
    const [q0, q1] = layoutQuality(data, n, d, [full.layout, scaled.layout], { sampleSize: 600, seed: 2 });
    expect(q1.recall / q0.recall).toBeGreaterThan(0.8);
  });
});

describe('an atlas laid out beyond its fit sample', () => {
  const n = 2400;
  const d = 8;
  const table = (rows: number[], data: Float32Array): ActivationTable => ({
    layer: 'test',
    dim: d,
    count: rows.length,
    values: Float32Array.from(rows.flatMap((r) => Array.from(data.subarray(r * d, (r + 1) * d)))),
    input: Uint32Array.from(rows),
    position: new Int32Array(rows.length).fill(-1),
    positionShape: [],
    totalBeforeSampling: rows.length,
  });
  const recorded = (rows: number[], data: Float32Array): LayoutColumns => ({
    modality: 'precomputed',
    model: { name: 'rows', kind: 'npy', rows: n, classNames: null },
    table: table(rows, data),
    layerShape: [d],
    names: Array.from({ length: n }, (_, i) => `row ${i}`),
    labels: new Array(n).fill(null),
    predicted: new Int32Array(n).fill(-1),
    probability: new Float32Array(n),
    samplesPerInput: 'pooled',
    notices: [],
  });

  it('bins a placed point where the one-process pipeline bins it, when a shard places its own rows into the fit', async () => {
    const { data } = mixture(n, d, 6, 4);
    const params: AtlasParams = { ...DEFAULT_ATLAS_PARAMS, pcaDims: 0, iterations: 100, gridSizes: [20, 40, 80, 160] };
    const all = Array.from({ length: n }, (_, i) => i);
    let fit: LayoutFit | null = null;
    const atlas = await layoutAtlas(recorded(all, data), params, undefined, undefined, undefined, { fitSample: 800, onFit: (f) => (fit = f) });
    expect(atlas.notices.join(' ')).toContain('fitted on 800 of the 2,400 rows');
    // A shard: every third row, placed into the same fit in another process.
    const shardRows = all.filter((i) => i % 3 === 1);
    const shard = await layoutAtlas(recorded(shardRows, data), params, undefined, undefined, undefined, { fit: fit! });
    shardRows.forEach((row, k) => {
      expect(shard.points.layoutX[k]).toBe(atlas.points.layoutX[row]);
      expect(shard.points.layoutY[k]).toBe(atlas.points.layoutY[row]);
      for (const level of atlas.levels) {
        const g = level.size;
        const i = cellOf(atlas.points.layoutX[row], g);
        const j = cellOf(atlas.points.layoutY[row], g);
        expect([cellOf(shard.points.layoutX[k], g), cellOf(shard.points.layoutY[k], g)]).toEqual([i, j]);
      }
    });
    // And the cell the pipeline binned each point into is the cell of its coordinates: counts agree.
    for (const level of atlas.levels) {
      const counts = new Map<string, number>();
      for (let p = 0; p < n; p++) {
        const key = `${cellOf(atlas.points.layoutX[p], level.size)}:${cellOf(atlas.points.layoutY[p], level.size)}`;
        counts.set(key, (counts.get(key) ?? 0) + 1);
      }
      for (const cell of level.cells) expect(cell.count).toBe(counts.get(`${cell.i}:${cell.j}`));
    }
  });
});
