import { afterEach, describe, expect, it, vi } from 'vitest';
import { modelWorkerBytes, sampleModelMemory } from '../../src/app/modelMemory';
import { resetAtlasStore, useAtlasStore } from '../../src/store';

const breakdown = (bytes: number) => [
  { bytes, attribution: [{ scope: 'DedicatedWorkerGlobalScope', url: 'http://127.0.0.1/assets/model.worker-abc.js' }] },
  { bytes: 7, attribution: [{ scope: 'DedicatedWorkerGlobalScope', url: 'http://127.0.0.1/assets/compute.worker-abc.js' }] },
  { bytes: 11, attribution: [{ scope: 'Window', url: 'http://127.0.0.1/' }] },
  { bytes: 13, attribution: [] },
];

describe('modelWorkerBytes', () => {
  it("counts only what is attributed to the model worker alone", () => {
    expect(modelWorkerBytes(breakdown(1000))).toBe(1000);
    expect(modelWorkerBytes([])).toBe(0);
  });
});

describe('sampleModelMemory', () => {
  afterEach(() => {
    vi.unstubAllGlobals();
    vi.restoreAllMocks();
    resetAtlasStore();
  });

  it('reads the model worker while a build records, with the inputs recorded by then, and starts afresh with the next build', async () => {
    let bytes = 100;
    vi.stubGlobal('crossOriginIsolated', true);
    const measure = vi.fn(async () => ({ breakdown: breakdown((bytes += 10)) }));
    Object.assign(performance, { measureUserAgentSpecificMemory: measure });
    const sampler = sampleModelMemory(useAtlasStore);
    try {
      expect(sampler.current()).toEqual({ available: true, samples: [] });
      useAtlasStore.getState().runStarted();
      useAtlasStore.getState().runProgress({ stage: 'record', done: 64, total: 200 });
      await vi.waitFor(() => expect(sampler.current().samples.length).toBeGreaterThan(0));
      expect(sampler.current().samples[0]).toEqual({ inputs: 64, total: 200, bytes: 110 });
      useAtlasStore.getState().runProgress({ stage: 'project', done: 0, total: 1 });
      await new Promise((r) => setTimeout(r, 600));
      const calls = measure.mock.calls.length;
      await new Promise((r) => setTimeout(r, 600));
      expect(measure.mock.calls.length, 'no readings once the recording is over').toBe(calls);
      useAtlasStore.getState().runStarted();
      expect(sampler.current().samples).toEqual([]);
    } finally {
      sampler.stop();
      delete (performance as { measureUserAgentSpecificMemory?: unknown }).measureUserAgentSpecificMemory;
    }
  });

  it('says when the browser cannot measure', () => {
    vi.stubGlobal('crossOriginIsolated', false);
    const sampler = sampleModelMemory(useAtlasStore);
    expect(sampler.current().available).toBe(false);
    sampler.stop();
  });
});
