import { beforeEach, describe, expect, it, vi } from 'vitest';
import { InterventionController } from '../../src/app/interventions';
import type { AtlasPipeline } from '../../src/app/pipeline';
import { DEFAULT_ATLAS_PARAMS, type Atlas } from '../../src/compute/atlas';
import type { Concept } from '../../src/compute/directions/concept';
import { abortError } from '../../src/lib/abort';
import type { SteerForm } from '../../src/panels/interventionTasks';
import { resetAtlasStore, useAtlasStore } from '../../src/store';
import type { AblatePromptRequest, ModelSummary, SaeSummary, SteerPromptRequest, SteerPromptResult, SteerToken, WaitProgress } from '../../src/workers/protocol';

const WIDTH = 4;
const atlas = {
  modality: 'text',
  model: { name: 'tiny' },
  inputs: { names: ['t'], label: [-1], predicted: [-1], probability: [0], thumbnails: [''] },
  layer: { name: 'h.1', shape: [1, WIDTH], dim: WIDTH, positionShape: [1] },
  params: DEFAULT_ATLAS_PARAMS,
  labelNames: [],
  points: { input: Uint32Array.of(0), position: Int32Array.of(0), layoutX: Float32Array.of(0), layoutY: Float32Array.of(0), totalBeforeSampling: 1 },
  levels: [{ size: 20, cells: [] }],
  notices: [],
} as unknown as Atlas;
const model = { modality: 'text', layers: [{ name: 'h.0', shape: [1, WIDTH] }, { name: 'h.1', shape: [1, WIDTH] }] } as unknown as ModelSummary;
const concept: Concept = { id: 'c1', name: 'sea', layer: 'h.1', method: 'difference-of-means', direction: Float32Array.of(3, 4, 0, 0), accuracy: 1, folds: 5, positives: 2, negatives: 2, source: 'test' };
const form: SteerForm = { layer: 'h.1', direction: { kind: 'concept', id: 'c1' }, seed: '0', classIndex: '0', alpha: '4', prompt: 'The whale', tokens: '5', temperature: '0', watch: '' };
const result = (text: string): SteerPromptResult => ({
  promptIds: [1],
  scale: 2,
  unsteered: { ids: [1], text, stop: 'length' },
  steered: { ids: [2], text, stop: 'length' },
  heldOut: { contexts: 1, positions: 2, klMean: 0.1, promoted: [], suppressed: [] },
  scaleContexts: 1,
});

/** A pipeline whose runs the test drives: each call waits for `finish` or its signal. */
function fakePipeline() {
  type Call = { request: SteerPromptRequest | AblatePromptRequest; report: (p: SteerToken | WaitProgress | { stage: 'ablate'; done: number; total: number }) => void; finish: (r: unknown) => void; fail: (e: Error) => void };
  const calls: Call[] = [];
  const run = (request: Call['request'], signal: AbortSignal | undefined, report: Call['report'] | undefined) =>
    new Promise<never>((resolve, reject) => {
      signal?.addEventListener('abort', () => reject(abortError()));
      calls.push({ request, report: report ?? (() => {}), finish: resolve as (r: unknown) => void, fail: reject });
    });
  const pipeline = {
    steer: (_recording: number, request: SteerPromptRequest, signal?: AbortSignal, onToken?: Call['report']) => run(request, signal, onToken),
    ablate: (_recording: number, request: AblatePromptRequest, signal?: AbortSignal, onProgress?: Call['report']) => run(request, signal, onProgress),
    // The worker's check: here, a word with a capital is "two tokens".
    watchedTokens: async (words: string[]) => {
      const long = words.find((w) => /[A-Z]/.test(w));
      if (long) throw new Error(`"${long}" is 2 GPT-2 tokens (as " ${long}" inside a sentence): watch comma-separated words of one token each.`);
      return words.map((_, k) => k);
    },
    saeLatentTop: async (_layout: number, latent: number) => ({ latent, rows: new Int32Array(0), values: new Float32Array(0), encoder: new Float32Array(WIDTH), decoder: Float32Array.of(0, 0, 2, 0) }),
  };
  return { pipeline: pipeline as unknown as AtlasPipeline, calls };
}

const state = () => useAtlasStore.getState();

describe("the Interventions panel's tasks", () => {
  let calls: ReturnType<typeof fakePipeline>['calls'];
  let interventions: InterventionController;
  beforeEach(() => {
    resetAtlasStore();
    state().modelLoaded(model, 'builtin' as never);
    state().setAtlas({ ...atlas, concepts: [concept] }, 'build');
    const fake = fakePipeline();
    calls = fake.calls;
    interventions = new InterventionController(useAtlasStore, async () => fake.pipeline, () => ({ recording: 1, layout: 2 }));
  });

  it('steers along the unit concept: the wait, then the tokens as they stream, then the result', async () => {
    const done = interventions.steer(form);
    await vi.waitFor(() => expect(calls).toHaveLength(1));
    const asked = calls[0].request as SteerPromptRequest;
    expect(Array.from(asked.direction)).toEqual([0.6, 0.8, 0, 0].map(Math.fround));
    expect([asked.layer, asked.alpha, asked.maxTokens, asked.prompt]).toEqual(['h.1', 4, 5, 'The whale']);
    expect(asked.watch).toBeUndefined();
    calls[0].report({ stage: 'waiting', done: 0, total: 0, message: 'Waiting for SAE training to finish…' });
    expect(state().interventionWait).toMatch(/Waiting/);
    calls[0].report({ side: 'steered', text: ' sea' });
    calls[0].report({ side: 'unsteered', text: ' ship' });
    expect(state().interventionWait).toBeNull();
    expect(state().steering!.tokens).toEqual({ unsteered: [' ship'], steered: [' sea'] });
    calls[0].finish(result(' sea'));
    await done;
    expect(state().steering).toMatchObject({ end: 'done', direction: 'concept "sea"', result: { scale: 2 } });
  });

  it('asks for the watched words (trimmed, blanks dropped) to be tested against 20 random directions', async () => {
    const done = interventions.steer({ ...form, watch: ' sea, ship ,, ' });
    await vi.waitFor(() => expect(calls).toHaveLength(1));
    const asked = calls[0].request as SteerPromptRequest;
    expect([asked.watch, asked.random]).toEqual([['sea', 'ship'], 20]);
    expect(state().steering!.testFraction).toBeNull();
    calls[0].report({ stage: 'measure', done: 2, total: 8 } as never);
    expect(state().steering!.testFraction).toBe(0.25);
    calls[0].finish(result(' sea'));
    await done;
    const shown = state().steering;
    await interventions.steer({ ...form, watch: 'sea, Ishmaelite' });
    expect(state().interventionProblem).toMatch(/"Ishmaelite" is 2 GPT-2 tokens/);
    expect(calls).toHaveLength(1);
    expect(state().steering).toBe(shown);
  });

  it('refuses a bad request with a message and keeps the run on screen; the next request clears the message', async () => {
    const first = interventions.steer(form);
    await vi.waitFor(() => expect(calls).toHaveLength(1));
    calls[0].finish(result(' sea'));
    await first;
    const shown = state().steering;
    await interventions.steer({ ...form, alpha: 'a lot' });
    expect(state().interventionProblem).toBe('α must be a number; got "a lot".');
    await interventions.steer({ ...form, layer: 'h.0' });
    expect(state().interventionProblem).toMatch(/The concept "sea" is a direction of h\.1, not of h\.0/);
    await interventions.ablate({ ...form, mode: 'zero', contexts: '4' });
    expect(state().interventionProblem).toMatch(/Zero-ablation sets a neuron/);
    expect(state().steering).toBe(shown);
    expect(calls).toHaveLength(1);
    const next = interventions.steer({ ...form, direction: { kind: 'neuron', index: '2' } });
    expect(state().interventionProblem).toBeNull();
    await vi.waitFor(() => expect(calls).toHaveLength(2));
    expect(Array.from((calls[1].request as SteerPromptRequest).direction)).toEqual([0, 0, 1, 0]);
    calls[1].finish(result(' x'));
    await next;
    // The concept set to its mean is a direction's mean-ablation, not a refusal.
    const meaned = interventions.ablate({ ...form, mode: 'mean', contexts: '4' });
    await vi.waitFor(() => expect(calls).toHaveLength(3));
    expect(calls[2].request).toMatchObject({ target: { kind: 'direction' }, mode: 'mean', contexts: 4 });
    expect(state().interventionProblem).toBeNull();
    calls[2].fail(new Error('the model worker stopped'));
    await meaned;
  });

  it('an ablation scores only the watched words when given, and refuses a word of several tokens before running', async () => {
    await interventions.ablate({ ...form, mode: 'project', contexts: '4', watch: 'sea, Ishmaelite' });
    expect(state().interventionProblem).toMatch(/"Ishmaelite" is 2 GPT-2 tokens/);
    expect(calls).toHaveLength(0);
    const watched = interventions.ablate({ ...form, mode: 'project', contexts: '4', watch: 'sea, ship' });
    await vi.waitFor(() => expect(calls).toHaveLength(1));
    expect(calls[0].request).toMatchObject({ mode: 'project', contexts: 4, watch: ['sea', 'ship'] });
    expect(state().ablation!.watch).toEqual(['sea', 'ship']);
    calls[0].fail(new Error('the model worker stopped'));
    await watched;
    const every = interventions.ablate({ ...form, mode: 'project', contexts: '4', watch: ' , ', texts: ' \n ' });
    await vi.waitFor(() => expect(calls).toHaveLength(2));
    expect(calls[1].request).not.toHaveProperty('watch');
    expect(calls[1].request).not.toHaveProperty('texts');
    expect(state().ablation).toMatchObject({ watch: null, texts: false });
    calls[1].fail(new Error('the model worker stopped'));
    await every;
  });

  it("an ablation measures the loss on the user's texts when given, the text as typed", async () => {
    const texts = interventions.ablate({ ...form, mode: 'project', contexts: '4', texts: '  The sea was calm.\n\nCall me Ishmael.  ' });
    await vi.waitFor(() => expect(calls).toHaveLength(1));
    expect(calls[0].request).toMatchObject({ mode: 'project', contexts: 4, texts: 'The sea was calm.\n\nCall me Ishmael.' });
    expect(state().ablation!.texts).toBe(true);
    calls[0].fail(new Error('the model worker stopped'));
    await texts;
  });

  it('a newer run replaces a running one; what the old one says afterwards is dropped', async () => {
    const first = interventions.steer(form);
    await vi.waitFor(() => expect(calls).toHaveLength(1));
    const second = interventions.steer({ ...form, alpha: '8' });
    await vi.waitFor(() => expect(calls).toHaveLength(2));
    await first;
    calls[0].report({ side: 'steered', text: ' old' });
    expect(state().steering).toMatchObject({ alpha: 8, end: 'running', tokens: { steered: [] } });
    calls[1].fail(new Error('the model worker stopped'));
    await second;
    expect(state().steering!.end).toBe('failed');
    expect(state().interventionProblem).toBe('the model worker stopped');
  });

  it('an atlas replaced mid-run hears nothing more from it', async () => {
    const run = interventions.ablate({ ...form, direction: { kind: 'neuron', index: '1' }, mode: 'mean', contexts: '3' });
    await vi.waitFor(() => expect(calls).toHaveLength(1));
    expect(calls[0].request).toMatchObject({ target: { kind: 'unit', unit: 1 }, mode: 'mean', contexts: 3, random: 20 });
    calls[0].report({ stage: 'ablate', done: 1, total: 4 });
    expect(state().ablation!.fraction).toBe(0.25);
    state().setAtlas({ ...atlas }, 'build');
    calls[0].fail(new Error('Stopped: a new atlas is being built.'));
    await run;
    expect(state().ablation).toBeNull();
    expect(state().interventionProblem).toBeNull();
  });

  it("steers along an SAE latent's decoder row, at the atlas's layer when the SAE's file names none", async () => {
    state().setSaeSummary({ origin: 'opened', config: { architecture: 'topk', dIn: WIDTH, dSae: 8, k: 2, applyBDecToInput: true, layer: null, modelName: null } } as unknown as SaeSummary);
    const done = interventions.steer({ ...form, direction: { kind: 'latent', index: '3' } });
    await vi.waitFor(() => expect(calls).toHaveLength(1));
    expect(Array.from((calls[0].request as SteerPromptRequest).direction)).toEqual([0, 0, 1, 0]);
    expect(state().steering!.direction).toBe('SAE latent 3');
    interventions.cancel();
    await done;
    expect(state().steering!.end).toBe('cancelled');
    expect(state().interventionProblem).toBeNull();
    await interventions.steer({ ...form, layer: 'h.0', direction: { kind: 'latent', index: '3' } });
    expect(state().interventionProblem).toBe("The SAE's latents are directions of h.1, not of h.0.");
  });
});
