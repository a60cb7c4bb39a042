import { randomDirections, unitVector } from '../compute/directions/vectors';
import { isAbortError } from '../lib/abort';
import { messageOf } from '../lib/errors';
import { finiteNumber, wholeNumber } from '../lib/validate';
import type { AblateForm, InterventionDirection, InterventionForm, InterventionTasks, SteerForm } from '../panels/interventionTasks';
import type { ClassResult, RunEnd, useAtlasStore } from '../store';
import type { AblatePromptRequest, AblationMode, AblationTarget, AblationTest, BuildRef, ClassAblateRequest, ClassSteerRequest, MeasureProgress, SteerPromptRequest, SteerPromptResult } from '../workers/protocol';
import type { AtlasPipeline } from './pipeline';

type Store = typeof useAtlasStore;

/** Most tokens a continuation may ask for in the page. */
export const MAX_STEER_TOKENS = 200;
/** Random ablations (and random steering directions) each run is tested against (the "at least 20, seeded"). */
export const ABLATION_CONTROLS = 20;

/** A checked request: the layer, the unit direction (or neuron) and its name in words. */
interface Resolved {
  ref: BuildRef;
  layer: string;
  direction: Float32Array;
  /** The neuron's index when the direction is one. */
  neuron: number | null;
  label: string;
  seed: number;
}

/**
 * The Interventions panel's work on the atlas's GPT-2, in the model worker: steer a continuation of the user's
 * prompt along a direction (a concept, a neuron, an SAE latent, a random direction as control) at any layer, with
 * both continuations streamed; ablate a direction or neuron and test the rise in loss over the atlas's texts against
 * random ablations. Either cancels; a bad request is refused with a message, and the run on screen stays.
 */
export class InterventionController implements InterventionTasks {
  private running: AbortController | null = null;
  /** The request being checked (a latent's check asks the model worker): a cancel stops it from starting. */
  private checking: AbortController | null = null;
  private serial = 0;

  constructor(
    private readonly store: Store,
    private readonly pipeline: () => Promise<AtlasPipeline>,
    /** The workers' copy of the atlas on screen; null for an atlas opened from a file. */
    private readonly live: () => BuildRef | null,
  ) {}

  async steer(form: SteerForm): Promise<void> {
    if (this.store.getState().atlas?.modality === 'image') return this.classRun(form, 'steer');
    await this.run(
      async () => {
        const r = await this.resolve(form);
        if (form.prompt.trim() === '') throw new Error('The prompt is empty: type some text to continue.');
        const alpha = finiteNumber(form.alpha, 'α');
        const maxTokens = wholeNumber(form.tokens, 'Tokens', 1, MAX_STEER_TOKENS);
        const temperature = finiteNumber(form.temperature, 'The temperature');
        if (temperature < 0) throw new Error(`The temperature must be 0 (greedy) or more; got ${temperature}.`);
        const watch = await this.watchedWords(form.watch);
        const test = watch.length ? { watch, random: ABLATION_CONTROLS } : {};
        const request: SteerPromptRequest = { layer: r.layer, direction: r.direction, alpha, prompt: form.prompt, maxTokens, temperature, topK: 0, seed: r.seed, ...test };
        return { r, request };
      },
      (id, { r, request }) =>
        this.store.getState().startRun('steering', { id, direction: r.label, layer: r.layer, end: 'running', alpha: request.alpha, prompt: request.prompt, tokens: { unsteered: [], steered: [] }, result: null, testFraction: null }),
      (pipeline, { r, request }, id, signal) =>
        pipeline.steer(r.ref.recording, request, signal, (p) => {
          const s = this.store.getState();
          if (s.steering?.id !== id) return;
          if (!('stage' in p)) s.addSteerToken(id, p);
          else if (p.stage === 'measure') s.steerTestProgress(id, p.done / p.total);
          else s.setInterventionWait(p.message);
        }),
      (id, end, result?: SteerPromptResult) => this.store.getState().endSteering(id, end, result),
    );
  }

  async ablate(form: AblateForm): Promise<void> {
    if (this.store.getState().atlas?.modality === 'image') return this.classRun(form, 'ablate');
    await this.run(
      async () => {
        const r = await this.resolve(form);
        const contexts = wholeNumber(form.contexts, 'Contexts', 1);
        const watch = await this.watchedWords(form.watch);
        const texts = form.texts?.trim() ?? '';
        const request: AblatePromptRequest = {
          layer: r.layer,
          target: this.ablationTarget(form.mode, r),
          mode: form.mode,
          contexts,
          random: ABLATION_CONTROLS,
          seed: r.seed,
          ...(watch.length && { watch }),
          ...(texts && { texts }),
        };
        return { r, request };
      },
      (id, { r, request }) =>
        this.store.getState().startRun('ablation', { id, direction: r.label, layer: r.layer, end: 'running', mode: request.mode, watch: request.watch ?? null, texts: request.texts !== undefined, fraction: 0, result: null }),
      (pipeline, { r, request }, id, signal) => pipeline.ablate(r.ref.recording, request, signal, this.measureProgress('ablation', id)),
      (id, end, result?: AblationTest) => this.store.getState().endMeasure('ablation', id, end, result),
    );
  }

  /** A form's comma-separated words; refused here if one is not a single token, before anything runs, so that the run on screen stays. */
  private async watchedWords(field: string): Promise<string[]> {
    const watch = field.split(',').map((w) => w.trim()).filter((w) => w !== '');
    if (watch.length) await (await this.pipeline()).watchedTokens(watch);
    return watch;
  }

  /**
   * An image model's class moved by steering along the direction (α), or by ablating it (mode), over held-out images
   * of the atlas's inputs, against 20 seeded random controls.
   */
  private async classRun(form: SteerForm | AblateForm, kind: ClassResult['kind']): Promise<void> {
    await this.run(
      async () => {
        const r = await this.resolve(form);
        const { model } = this.store.getState();
        const classes = model?.modality === 'image' ? model.classNames : null;
        const classIndex = wholeNumber(form.classIndex, 'The class', 0, Math.max(0, (classes?.length ?? 1) - 1));
        const className = classes?.[classIndex] ?? String(classIndex);
        if (kind === 'steer') {
          const alpha = finiteNumber((form as SteerForm).alpha, 'α');
          const request: ClassSteerRequest = { layer: r.layer, direction: r.direction, alpha, classIndex, random: ABLATION_CONTROLS, seed: r.seed };
          return { r, className, kind, request } as const;
        }
        const mode = (form as AblateForm).mode;
        const request: ClassAblateRequest = { layer: r.layer, target: this.ablationTarget(mode, r), mode, classIndex, random: ABLATION_CONTROLS, seed: r.seed };
        return { r, className, kind, request } as const;
      },
      (id, { r, className, kind: k, request }) =>
        this.store.getState().startRun('classRun', { id, direction: r.label, layer: r.layer, end: 'running', kind: k, className, alpha: 'alpha' in request ? request.alpha : null, mode: 'mode' in request ? request.mode : null, fraction: 0, result: null }),
      async (pipeline, asked, id, signal) => {
        const progress = this.measureProgress('classRun', id);
        const recording = asked.r.ref.recording;
        return asked.kind === 'steer'
          ? ({ kind: 'steer', test: await pipeline.steerClasses(recording, asked.request, signal, progress) } as const)
          : ({ kind: 'ablate', test: await pipeline.ablateClasses(recording, asked.request as ClassAblateRequest, signal, progress) } as const);
      },
      (id, end, result?: ClassResult) => this.store.getState().endMeasure('classRun', id, end, result),
    );
  }

  /** A measuring run's progress into the store while it is the run on screen: its wait for the model, then its fraction done. */
  private measureProgress(kind: 'ablation' | 'classRun', id: number): (p: MeasureProgress) => void {
    return (p) => {
      const s = this.store.getState();
      if (s[kind]?.id !== id) return;
      if (p.stage === 'waiting') s.setInterventionWait(p.message);
      else s.measureProgress(kind, id, p.done / p.total);
    };
  }

  /** What an ablation removes: the direction (projected out, or set to its mean), or the neuron (zeroed, or set to its mean). */
  private ablationTarget(mode: AblationMode, r: Resolved): AblationTarget {
    if (mode === 'zero' && r.neuron === null) throw new Error(`Zero-ablation sets a neuron: pick one, or project the ${r.label} out (or set it to its mean).`);
    return mode === 'project' || r.neuron === null ? { kind: 'direction', direction: r.direction } : { kind: 'unit', unit: r.neuron };
  }

  /** Stops the run under way (or the request being checked); what it showed stays on screen. */
  cancel(): void {
    this.running?.abort();
    this.checking?.abort();
  }

  /**
   * Checks the request (a problem is a message and nothing else changes), then runs it in place of any run under way:
   * it starts on screen, streams, and ends done, cancelled or failed (with the reason as the problem). A newer request
   * or a cancel made while this one is checked wins; nothing about an atlas no longer on screen reaches the store.
   */
  private async run<Q, R>(
    check: () => Promise<Q>,
    start: (id: number, asked: Q) => void,
    work: (pipeline: AtlasPipeline, asked: Q, id: number, signal: AbortSignal) => Promise<R>,
    end: (id: number, end: RunEnd, result?: R) => void,
  ): Promise<void> {
    const id = ++this.serial;
    const version = this.store.getState().atlasVersion;
    const mine = () => this.serial === id && this.store.getState().atlasVersion === version;
    const abort = new AbortController();
    this.checking = abort;
    this.store.getState().setInterventionProblem(null);
    let asked: Q;
    try {
      asked = await check();
    } catch (e) {
      if (mine()) this.store.getState().setInterventionProblem(messageOf(e));
      return;
    } finally {
      if (this.checking === abort) this.checking = null;
    }
    if (!mine() || abort.signal.aborted) return;
    this.running?.abort();
    this.running = abort;
    start(id, asked);
    try {
      const result = await work(await this.pipeline(), asked, id, abort.signal);
      if (mine()) end(id, 'done', result);
    } catch (e) {
      if (!mine()) return;
      end(id, isAbortError(e) ? 'cancelled' : 'failed');
      if (!isAbortError(e)) this.store.getState().setInterventionProblem(messageOf(e));
    } finally {
      if (this.running === abort) this.running = null;
    }
  }

  /** The form's layer, seed and direction, checked, the direction resolved to a unit vector of the layer. */
  private async resolve(form: InterventionForm): Promise<Resolved> {
    const { atlas, model } = this.store.getState();
    if (!atlas || !model) throw new Error('Build an atlas first: interventions run its model.');
    if (atlas.modality === 'precomputed') throw new Error('This atlas has no model: interventions run the model that recorded it.');
    const ref = this.live();
    if (!ref) throw new Error('This atlas was opened from a file: build it in this session to intervene on its model.');
    const layer = model.layers.find((l) => l.name === form.layer);
    if (!layer) throw new Error(`The model has no layer "${form.layer}".`);
    const width = layer.shape[layer.shape.length - 1];
    const seed = wholeNumber(form.seed, 'The seed', 0);
    return { ref, layer: layer.name, seed, ...(await this.direction(form.direction, layer.name, width, ref)) };
  }

  private async direction(asked: InterventionDirection, layer: string, width: number, ref: BuildRef): Promise<Pick<Resolved, 'direction' | 'neuron' | 'label'>> {
    const s = this.store.getState();
    if (asked.kind === 'concept') {
      const concept = s.concepts.find((c) => c.id === asked.id);
      if (!concept) throw new Error('Pick a concept (learn one in the Concepts panel).');
      if (concept.layer !== layer) throw new Error(`The concept "${concept.name}" is a direction of ${concept.layer}, not of ${layer}: use it at ${concept.layer}, or learn the concept at ${layer}.`);
      return { direction: unitVector(concept.direction), neuron: null, label: `concept "${concept.name}"` };
    }
    if (asked.kind === 'neuron') {
      const n = wholeNumber(asked.index, 'The neuron', 0, width - 1);
      const direction = new Float32Array(width);
      direction[n] = 1;
      return { direction, neuron: n, label: `neuron ${n}` };
    }
    if (asked.kind === 'latent') {
      const sae = s.saeSummary;
      if (!sae) throw new Error('No SAE is held for this atlas: train or open one in the Dictionary panel.');
      // An SAE whose file names no layer was opened for the atlas's rows: its latents are directions of that layer.
      const saeLayer = sae.config.layer ?? s.atlas!.layer.name;
      if (saeLayer !== layer) throw new Error(`The SAE's latents are directions of ${saeLayer}, not of ${layer}.`);
      const n = wholeNumber(asked.index, 'The latent', 0, sae.config.dSae - 1);
      const top = await (await this.pipeline()).saeLatentTop(ref.layout, n);
      return { direction: unitVector(top.decoder), neuron: null, label: `SAE latent ${n}` };
    }
    if (asked.kind === 'words') {
      const words = asked.words.split(',').map((w) => w.trim()).filter((w) => w !== '');
      if (words.length === 0) throw new Error('Type the words to steer towards, comma-separated.');
      const direction = await (await this.pipeline()).wordsDirection(layer, words);
      return { direction, neuron: null, label: `words "${words.join(', ')}"` };
    }
    const seed = wholeNumber(asked.index, 'The random direction\'s seed', 0);
    return { direction: randomDirections(width, 1, seed), neuron: null, label: `random direction (seed ${seed})` };
  }
}
