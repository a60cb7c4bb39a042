import { describe, expect, it } from 'vitest';
import { DEFAULT_ATLAS_PARAMS } from '../../src/compute/atlas';
import { npyFloat32 } from '../../src/export/npy';
import { writePointsJsonl, writePointsTableParquet } from '../../src/export/pointsTable';
import { createComputeService } from '../../src/workers/computeService';
import { clusteredRows } from '../export/clusters';

const ROWS = 150;
const DIM = 9;
const params = { ...DEFAULT_ATLAS_PARAMS, pcaDims: 0, iterations: 50, gridSizes: [4, 8], seed: 2 };
const context = () => ({ signal: new AbortController().signal, progress: () => {} });

describe("the compute service's precomputed atlas", () => {
  it('reads the picked .npy and points table (Blobs), lays out, and serves the tools that need no model on its rows', async () => {
    const { values, label, text } = clusteredRows(ROWS, DIM);
    const service = createComputeService();
    const progress: unknown[] = [];
    const laid = await service.layoutPrecomputed(
      { signal: new AbortController().signal, progress: (p) => progress.push(p) },
      {
        activations: new Blob([npyFloat32(values, [ROWS, DIM]).slice()]),
        activationsName: 'acts.npy',
        points: new Blob([new Uint8Array(writePointsTableParquet({ label, text }))]),
        pointsName: 'points.parquet',
      },
      params,
    );
    expect(laid.atlas.modality).toBe('precomputed');
    expect(laid.atlas.points.input).toHaveLength(ROWS);
    expect(laid.previews.texts).toEqual(text);
    expect(laid.errors).toEqual([]);
    expect(progress).toContainEqual({ stage: 'record', done: ROWS, total: ROWS });
    // The neuron view, a concept from points and ranking along it read the same rows.
    const profile = service.neuronProfile(context(), laid.layout, 0, 5);
    expect(profile.top.every((p) => p.input % 3 === 0)).toBe(true);
    const whales = Array.from({ length: ROWS }, (_, k) => k).filter((k) => k % 3 === 0);
    const fit = service.learnConcept(context(), laid.layout, { id: 'whales', positives: { kind: 'points', points: whales }, negatives: { kind: 'rest' }, method: 'difference-of-means', seed: 0 });
    const ends = service.rankAlong(context(), laid.layout, fit.direction, 5);
    expect(ends.top.every((p) => p.input % 3 === 0)).toBe(true);
  });

  it('refuses a JSONL table of another row count, naming both files', async () => {
    const { values, label } = clusteredRows(ROWS, DIM);
    const service = createComputeService();
    await expect(
      service.layoutPrecomputed(
        context(),
        {
          activations: new Blob([npyFloat32(values, [ROWS, DIM]).slice()]),
          activationsName: 'acts.npy',
          points: new Blob([writePointsJsonl(label.slice(1).map((l) => ({ label: l })))]),
          pointsName: 'points.jsonl',
        },
        params,
      ),
    ).rejects.toThrow('points.jsonl has 149 rows, but acts.npy has 150');
  });
});
