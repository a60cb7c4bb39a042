import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { AtlasController } from '../../src/app/controller';
import { AtlasPipeline } from '../../src/app/pipeline';
import { DEFAULT_MODEL_DIR } from '../../src/cli/buildAtlas';
import { resetAtlasStore, useAtlasStore } from '../../src/store';
import { nodeWorkerEndpoint } from '../workers/nodeEndpoint';

const workers = {
  model: () => nodeWorkerEndpoint(new URL('./crashingModel.worker.ts', import.meta.url)),
  compute: () => nodeWorkerEndpoint(new URL('./nodeCompute.worker.ts', import.meta.url)),
};

// The built-in CNN's files served as a model from a URL: a model the controller loads without building an atlas.
let server: Server;
/** Requests to /stall/ are held open here, and `stallArrived` is told when one comes. */
const stalled: import('node:http').ServerResponse[] = [];
let stallArrived: (() => void) | null = null;
const stallRequested = () => new Promise<void>((resolve) => (stallArrived = resolve));
/** The model's URL answers 404 (the user's server went away). */
let modelGone = false;
let modelUrl = '';
let crashUrl = '';
beforeAll(async () => {
  server = createServer((request, response) => {
    if (request.url?.startsWith('/stall/')) {
      // A download that never ends (a slow hub or server): it answers nothing until the client gives up.
      stalled.push(response);
      stallArrived?.();
      return;
    }
    if (modelGone && request.url?.startsWith('/model/')) return void response.writeHead(404).end();
    readFile(join(DEFAULT_MODEL_DIR, (request.url ?? '').replace(/^\/model\//, '')))
      .then((bytes) => response.end(bytes))
      .catch(() => response.writeHead(404).end());
  });
  await new Promise<void>((listening) => server.listen(0, '127.0.0.1', listening));
  const { port } = server.address() as { port: number };
  modelUrl = `http://127.0.0.1:${port}/model/model.json`;
  // The model worker dies fetching it (crashingModel.worker.ts).
  crashUrl = `http://127.0.0.1:${port}/crash/model.json`;
});
afterAll(() => {
  for (const response of stalled) response.destroy();
  return new Promise<void>((closed) => server.close(() => closed()));
});

let controller: AtlasController;
let pipelines: Promise<AtlasPipeline>[];
beforeEach(() => {
  modelGone = false;
  resetAtlasStore();
  pipelines = [];
  const create = AtlasPipeline.create.bind(AtlasPipeline);
  vi.spyOn(AtlasPipeline, 'create').mockImplementation((options) => {
    const pipeline = create({ ...options, workers });
    pipelines.push(pipeline);
    return pipeline;
  });
  controller = new AtlasController(useAtlasStore, () => {}, { backend: 'wasm' });
});
afterEach(() => {
  controller.dispose();
  vi.restoreAllMocks();
});

describe('a model worker lost during a model load', () => {
  it('keeps the previous model, which the worker can still record with', async () => {
    await controller.loadModel({ kind: 'url', url: modelUrl });
    const loaded = useAtlasStore.getState();
    expect(loaded.modelStatus).toBe('ready');

    await controller.loadModel({ kind: 'url', url: crashUrl });
    const s = useAtlasStore.getState();
    // Not left loading: the load failed, and says why.
    expect(s.modelProgress).toBeNull();
    expect(s.status).toBe('error');
    expect(s.error).toMatch(/Could not load the model: .*exited with code 3/);
    // The store still offers the previous model...
    expect(s.modelStatus).toBe('ready');
    expect(s.model?.fingerprint).toBe(loaded.model?.fingerprint);
    expect(s.modelOrigin).toBe('url');
    expect(s.layer).toBe(loaded.layer);
    // ...so the model worker, restarted, must hold it again: an atlas of its layer builds.
    const pipeline = await pipelines[0];
    const built = await pipeline.build({ inputs: { kind: 'sample' }, layer: s.layer!, params: { ...s.params, iterations: 30, gridSizes: [8] } }, () => {});
    expect(built.atlas.model.name).toBe(s.model?.name);
    expect(built.atlas.points.input.length).toBeGreaterThan(0);
  });

  it('with no model before, says the load failed and that there is no model; the next load works', async () => {
    await controller.loadModel({ kind: 'url', url: crashUrl });
    const s = useAtlasStore.getState();
    expect(s.modelStatus).toBe('error');
    expect(s.model).toBeNull();
    expect(s.modelProgress).toBeNull();
    expect(s.status).toBe('error');
    expect(s.error).toMatch(/Could not load the model: .*exited with code 3/);

    await controller.loadModel({ kind: 'url', url: modelUrl });
    expect(useAtlasStore.getState().modelStatus).toBe('ready');
    expect(useAtlasStore.getState().model?.layers.length).toBeGreaterThan(0);
  });

  it('when the previous model cannot be loaded again either, says there is no model instead of offering one the worker lacks', async () => {
    await controller.loadModel({ kind: 'url', url: modelUrl });
    expect(useAtlasStore.getState().modelStatus).toBe('ready');
    modelGone = true;
    await controller.loadModel({ kind: 'url', url: crashUrl });
    const s = useAtlasStore.getState();
    expect(s.modelStatus).toBe('error');
    expect(s.model).toBeNull();
    expect(s.errors.map((e) => e.message).join(' | ')).toMatch(/could not be loaded again/);
  });
});

describe('model loads', () => {
  const stallUrl = () => modelUrl.replace('/model/', '/stall/');

  it('a new load cancels the one still downloading instead of waiting behind it', async () => {
    const requested = stallRequested();
    const first = controller.loadModel({ kind: 'url', url: stallUrl() });
    await requested;
    await controller.loadModel({ kind: 'url', url: modelUrl });
    const s = useAtlasStore.getState();
    expect(s.modelStatus).toBe('ready');
    expect(s.model?.name).toBe('model');
    await first;
    expect(useAtlasStore.getState().errors).toEqual([]);
  });

  it('cancel stops a download and keeps the model loaded before, without an error', async () => {
    await controller.loadModel({ kind: 'url', url: modelUrl });
    const before = useAtlasStore.getState().model;
    const requested = stallRequested();
    const loading = controller.loadModel({ kind: 'url', url: stallUrl() });
    await requested;
    expect(useAtlasStore.getState().modelStatus).toBe('pending');
    controller.cancelModelLoad();
    await loading;
    const s = useAtlasStore.getState();
    expect(s.modelStatus).toBe('ready');
    expect(s.model?.fingerprint).toBe(before?.fingerprint);
    expect(s.status).not.toBe('error');
    expect(s.errors).toEqual([]);
  });
});
