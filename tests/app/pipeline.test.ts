import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { AtlasPipeline } from '../../src/app/pipeline';
import { atlasToJson, parseAtlas } from '../../src/export/atlasFile';
import { resetAtlasStore, useAtlasStore } from '../../src/store';
import { nodeWorkerEndpoint } from '../workers/nodeEndpoint';
import { tempDir } from '../tempDir';

const run = promisify(execFile);
const root = new URL('../..', import.meta.url).pathname;
const workers = {
  model: () => nodeWorkerEndpoint(new URL('./nodeModel.worker.ts', import.meta.url)),
  compute: () => nodeWorkerEndpoint(new URL('./nodeCompute.worker.ts', import.meta.url)),
};
const withoutDate = (json: object) => ({ ...json, createdAt: '' });

let pipeline: AtlasPipeline;
beforeAll(async () => {
  pipeline = await AtlasPipeline.create({ backend: 'wasm', workers });
  await pipeline.loadModel({ kind: 'default' });
});
afterAll(() => pipeline?.dispose());

describe('one pipeline for the page and the CLI', () => {
  it('gives the same atlas from the panel parameters (through the workers) as from the CLI flags', async () => {
    resetAtlasStore();
    // What a user types in the projection panel, every parameter away from its default.
    useAtlasStore.getState().setParams({ nNeighbors: 5, minDist: 0.5, iterations: 60, pcaDims: 8, seed: 3, samplesPerInput: 'pooled', gridSizes: [20, 40] });
    const params = useAtlasStore.getState().params;
    const page = await pipeline.build({ inputs: { kind: 'sample' }, layer: 'conv3', params }, () => {});

    const out = join(tempDir('atlas-cli-'), 'atlas.json');
    const flags = ['--neighbors', '5', '--min-dist', '0.5', '--iterations', '60', '--pca', '8', '--seed', '3', '--samples', 'pooled', '--grid', '20,40'];
    await run('node', ['--import', 'tsx', 'src/cli/atlas.ts', '--layer', 'conv3', ...flags, '--out', out], { cwd: root, maxBuffer: 1 << 26 });
    const cli = JSON.parse(readFileSync(out, 'utf8'));

    expect(cli.params).toMatchObject({ method: 'umap', nNeighbors: 5, minDist: 0.5, iterations: 60, pcaDims: 8, seed: 3, perplexity: 30 });
    expect(withoutDate(JSON.parse(JSON.stringify(atlasToJson(page.atlas))))).toEqual(withoutDate(cli));
    expect(page.atlas.points.input).toHaveLength(3000);
    // And the file opens again with every parameter.
    expect(parseAtlas(JSON.stringify(cli)).params).toEqual(params);
  });

  it('keeps the loaded model when the model worker honours a cancel', async () => {
    const reload = vi.spyOn(pipeline, 'loadModel');
    const controller = new AbortController();
    const params = { ...useAtlasStore.getState().params, iterations: 30 };
    const cancelled = pipeline.build({ inputs: { kind: 'sample' }, layer: 'conv3', params }, (p) => {
      if (p.stage === 'record' && p.done > 0) controller.abort();
    }, controller.signal);
    await expect(cancelled).rejects.toMatchObject({ name: 'AbortError' });
    expect(reload).not.toHaveBeenCalled();
    // The same worker still holds the model: the next build needs no reload.
    const next = await pipeline.build({ inputs: { kind: 'sample' }, layer: 'conv3', params }, () => {});
    expect(next.atlas.points.input).toHaveLength(3000);
    expect(reload).not.toHaveBeenCalled();
    reload.mockRestore();
  });

  it('cancels neurons against random directions in the compute worker, which keeps the atlas\'s table', async () => {
    const params = { ...useAtlasStore.getState().params, iterations: 30 };
    const built = await pipeline.build({ inputs: { kind: 'sample' }, layer: 'conv3', params }, () => {});
    const controller = new AbortController();
    const steps: number[] = [];
    const options = { k: 8, topN: 10, seed: 0, rotations: 200, threshold: 0.5 };
    const labels = Int32Array.from(built.atlas.points.input, (i) => built.atlas.inputs.label[i]);
    const cancelled = pipeline.versusRandom(built.ref.layout, labels, options, controller.signal, (p) => {
      steps.push(p.done);
      if (p.done === 1) controller.abort();
    });
    await expect(cancelled).rejects.toMatchObject({ name: 'AbortError' });
    expect(steps[0]).toBe(1);
    expect(steps.length).toBeLessThan(20); // of 202 steps
    // The worker honoured the cancel rather than being restarted: the same layout still answers.
    const result = await pipeline.versusRandom(built.ref.layout, labels, { ...options, rotations: 1 });
    expect(result.dissection?.rotated).toHaveLength(1);
    expect(result.neurons).toBe(8);
    expect(result.n).toBe(built.atlas.points.input.length);
  });
});
