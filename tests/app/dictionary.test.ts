import { beforeEach, describe, expect, it, vi } from 'vitest';
import { DictionaryController } from '../../src/app/dictionary';
import type { AtlasPipeline } from '../../src/app/pipeline';
import { DEFAULT_ATLAS_PARAMS, type Atlas } from '../../src/compute/atlas';
import { abortError } from '../../src/lib/abort';
import { resetAtlasStore, useAtlasStore } from '../../src/store';
import type { EpochLossRequest, SaeLossRecovered, SaeSummary, SaeTaskProgress, SaeTrainProgress, WaitProgress } from '../../src/workers/protocol';

const atlas: Atlas = {
  modality: 'image',
  model: { name: 'tiny', kind: 'layers', inputHeight: 2, inputWidth: 2, inputChannels: 1, classNames: ['a'] },
  inputs: { names: ['a/0.png'], label: [0], predicted: [0], probability: [1], thumbnails: [''] },
  layer: { name: 'conv', shape: [1, 1, 4], dim: 4, positionShape: [1, 1] },
  params: DEFAULT_ATLAS_PARAMS,
  labelNames: ['a'],
  points: { input: Uint32Array.of(0), position: Int32Array.of(0), layoutX: Float32Array.of(0), layoutY: Float32Array.of(0), totalBeforeSampling: 1 },
  levels: [{ size: 20, cells: [] }],
  notices: [],
};

const span = (rowsSeen: number): SaeTrainProgress => ({ rows: 10, mse: 1 / rowsSeen, fve: 0.5, l0: 4, auxLoss: 0, deadLatents: 0, epoch: 0, step: rowsSeen / 10, rowsSeen, totalRows: 100 });
const summary = (origin: SaeSummary['origin']): SaeSummary => ({
  origin,
  config: { architecture: 'topk', dIn: 4, dSae: 8, k: 2, applyBDecToInput: true, layer: 'conv', modelName: 'tiny' },
  settings: null,
  epochs: [],
  seconds: origin === 'trained' ? 1 : null,
  measures: { rows: 1, mse: 0.1, fve: 0.9, l0: 2, frequency: new Float64Array(8), maxActivation: new Float32Array(8), deadLatents: 8 },
  digest: origin,
});

/** A pipeline whose SAE tasks the test drives: each call waits for `finish` or the signal. */
function fakePipeline() {
  const calls: { onProgress: (p: SaeTaskProgress | WaitProgress) => void; finish: (s: SaeSummary) => void; fail: (e: Error) => void }[] = [];
  const epochLosses: (EpochLossRequest | null)[] = [];
  const task = (signal: AbortSignal | undefined, onProgress: ((p: SaeTaskProgress | WaitProgress) => void) | undefined) =>
    new Promise<SaeSummary>((resolve, reject) => {
      signal?.addEventListener('abort', () => reject(abortError()));
      calls.push({ onProgress: onProgress ?? (() => {}), finish: resolve, fail: reject });
    });
  const pipeline = {
    trainSae: (_layout: number, _target: unknown, _request: unknown, epochLoss: EpochLossRequest | null, signal?: AbortSignal, onProgress?: (p: SaeTaskProgress | WaitProgress) => void) => {
      epochLosses.push(epochLoss);
      return task(signal, onProgress);
    },
    openSae: (_layout: number, _target: unknown, _files: unknown, signal?: AbortSignal, onProgress?: (p: SaeTaskProgress | WaitProgress) => void) => task(signal, onProgress),
  };
  return { pipeline: pipeline as unknown as AtlasPipeline, calls, epochLosses };
}

const request = { architecture: 'topk' as const, latents: 8, k: 2, epochs: 1, seed: 0 };

describe("the dictionary panel's tasks", () => {
  beforeEach(() => {
    resetAtlasStore();
    useAtlasStore.getState().setAtlas(atlas, 'build');
  });

  it('feeds the curve from training spans, then holds the SAE; a cancel keeps the curve, ends the run as cancelled and leaves the SAE held', async () => {
    const { pipeline, calls } = fakePipeline();
    const dictionary = new DictionaryController(useAtlasStore, async () => pipeline, () => ({ recording: 1, layout: 2 }));
    const first = dictionary.train(request);
    await vi.waitFor(() => expect(calls).toHaveLength(1));
    calls[0].onProgress({ stage: 'waiting', done: 0, total: 0, message: 'Waiting for recording to finish…' });
    expect(useAtlasStore.getState().saeTask?.message).toMatch(/Waiting for recording/);
    calls[0].onProgress({ stage: 'train', ...span(10) });
    calls[0].onProgress({ stage: 'train', ...span(20) });
    expect(useAtlasStore.getState().saeCurve.map((p) => p.rowsSeen)).toEqual([10, 20]);
    expect(useAtlasStore.getState().saeTask).toMatchObject({ kind: 'train', status: 'running', fraction: 0.2 });
    calls[0].finish(summary('trained'));
    await first;
    expect(useAtlasStore.getState()).toMatchObject({ saeTask: null, saeRunEnd: 'done', saeSummary: { digest: 'trained' } });

    const second = dictionary.train(request);
    await vi.waitFor(() => expect(calls).toHaveLength(2));
    calls[1].onProgress({ stage: 'train', ...span(10) });
    dictionary.cancel();
    await second;
    expect(useAtlasStore.getState()).toMatchObject({ saeTask: null, saeRunEnd: 'cancelled', saeSummary: { digest: 'trained' } });
    expect(useAtlasStore.getState().saeCurve).toHaveLength(1);
  });

  it("on a text atlas asks for the loss recovered at each epoch's end and keeps it by epoch; an image atlas does not ask", async () => {
    const { pipeline, calls, epochLosses } = fakePipeline();
    const dictionary = new DictionaryController(useAtlasStore, async () => pipeline, () => ({ recording: 1, layout: 2 }));
    const image = dictionary.train(request);
    await vi.waitFor(() => expect(calls).toHaveLength(1));
    calls[0].finish(summary('trained'));
    await image;
    expect(epochLosses).toEqual([null]);

    useAtlasStore.getState().setAtlas({ ...atlas, modality: 'text' } as unknown as Atlas, 'build');
    const loss = (lossRecovered: number): SaeLossRecovered => ({ windows: 8, predictions: 504, clean: 5, spliced: 5.2, splicedExceptFirst: 5.1, zero: 7, lossRecovered, lossRecoveredExceptFirst: lossRecovered });
    const text = dictionary.train(request);
    await vi.waitFor(() => expect(calls).toHaveLength(2));
    expect(epochLosses[1]).toEqual({ of: 1, contexts: 8 });
    calls[1].onProgress({ stage: 'train', ...span(10) });
    calls[1].onProgress({ stage: 'epoch-loss', epoch: 0, loss: loss(0.6) });
    calls[1].onProgress({ stage: 'epoch-loss', epoch: 1, loss: loss(0.8) });
    expect(useAtlasStore.getState().saeEpochLoss.map((l) => l.lossRecovered)).toEqual([0.6, 0.8]);
    expect(useAtlasStore.getState().saeCurve).toHaveLength(1);
    calls[1].finish(summary('trained'));
    await text;
    expect(useAtlasStore.getState().saeEpochLoss).toHaveLength(2);
    // A new run starts with none; what a replaced run says afterwards is dropped.
    const next = dictionary.train(request);
    await vi.waitFor(() => expect(calls).toHaveLength(3));
    expect(useAtlasStore.getState().saeEpochLoss).toEqual([]);
    const newer = dictionary.train(request);
    await vi.waitFor(() => expect(calls).toHaveLength(4));
    calls[2].onProgress({ stage: 'epoch-loss', epoch: 0, loss: loss(0.1) });
    expect(useAtlasStore.getState().saeEpochLoss).toEqual([]);
    calls[3].finish(summary('trained'));
    await Promise.all([next, newer]);
  });

  it("drops an answer about an atlas that was replaced; a failure is the task's message and an opened SAE clears the curve", async () => {
    const { pipeline, calls } = fakePipeline();
    const dictionary = new DictionaryController(useAtlasStore, async () => pipeline, () => ({ recording: 1, layout: 2 }));
    const stale = dictionary.train(request);
    await vi.waitFor(() => expect(calls).toHaveLength(1));
    calls[0].onProgress({ stage: 'train', ...span(10) });
    useAtlasStore.getState().setAtlas(atlas, 'build');
    calls[0].onProgress({ stage: 'train', ...span(20) });
    calls[0].finish(summary('trained'));
    await stale;
    expect(useAtlasStore.getState()).toMatchObject({ saeTask: null, saeSummary: null, saeCurve: [] });

    const files = [new File(['{}'], 'cfg.json'), new File([new Uint8Array(8)], 'sae_weights.safetensors')];
    const failing = dictionary.open(files);
    await vi.waitFor(() => expect(calls).toHaveLength(2));
    calls[1].fail(new Error('The SAE reads 64-wide activations (d_in), but layer conv is 4 wide.'));
    await failing;
    expect(useAtlasStore.getState().saeTask).toMatchObject({ kind: 'open', status: 'error', message: 'Opening the SAE: The SAE reads 64-wide activations (d_in), but layer conv is 4 wide.' });

    await dictionary.open([files[0]]);
    expect(useAtlasStore.getState().saeTask?.message).toMatch(/pick the SAE's two files/);

    const training = dictionary.train(request);
    await vi.waitFor(() => expect(calls).toHaveLength(3));
    calls[2].onProgress({ stage: 'train', ...span(10) });
    calls[2].finish(summary('trained'));
    await training;
    const opening = dictionary.open(files);
    await vi.waitFor(() => expect(calls).toHaveLength(4));
    calls[3].finish(summary('opened'));
    await opening;
    expect(useAtlasStore.getState()).toMatchObject({ saeTask: null, saeCurve: [], saeRunEnd: null, saeSummary: { origin: 'opened' } });
  });

  it("measures a GPT-2 SAE's loss recovered with progress, refuses an image atlas and a bad count, and keeps the SAE", async () => {
    const measured = { windows: 8, predictions: 504, clean: 5, spliced: 5.2, splicedExceptFirst: 5.1, zero: 7, lossRecovered: 0.9, lossRecoveredExceptFirst: 0.95 };
    let report: ((p: { stage: 'measure'; done: number; total: number }) => void) | null = null;
    let finish: ((r: typeof measured) => void) | null = null;
    const asked: unknown[] = [];
    const pipeline = {
      saeLossRecovered: (recording: number, layout: number, contexts: number, _signal?: AbortSignal, onProgress?: typeof report) => {
        asked.push([recording, layout, contexts]);
        report = onProgress!;
        return new Promise((resolve) => (finish = resolve));
      },
    } as unknown as AtlasPipeline;
    const dictionary = new DictionaryController(useAtlasStore, async () => pipeline, () => ({ recording: 3, layout: 4 }));
    const state = () => useAtlasStore.getState();
    state().setSaeSummary(summary('trained'));
    await dictionary.lossRecovered('8');
    expect(state().saeTask?.message).toMatch(/loss recovered is measured on a GPT-2 layer/);
    state().setAtlas({ ...atlas, modality: 'text' } as unknown as Atlas, 'build');
    state().setSaeSummary(summary('trained'));
    await dictionary.lossRecovered('eight');
    expect(state().saeTask?.message).toMatch(/Contexts must be a whole number/);
    const run = dictionary.lossRecovered('8');
    await vi.waitFor(() => expect(asked).toEqual([[3, 4, 8]]));
    report!({ stage: 'measure', done: 4, total: 8 });
    expect(state().saeTask).toMatchObject({ kind: 'loss', status: 'running', fraction: 0.5, message: 'Measuring the loss recovered: 4 of 8 contexts…' });
    finish!(measured);
    await run;
    expect(state()).toMatchObject({ saeTask: null, saeLossRecovered: measured, saeSummary: { origin: 'trained' } });
    // A new SAE clears it.
    state().setSaeSummary(summary('opened'));
    expect(state().saeLossRecovered).toBeNull();
  });

  it('says so when the atlas was opened from a file (no rows to train on)', async () => {
    const { pipeline } = fakePipeline();
    const dictionary = new DictionaryController(useAtlasStore, async () => pipeline, () => null);
    await dictionary.train(request);
    expect(useAtlasStore.getState().saeTask?.message).toMatch(/atlas built in this session/);
  });
});
