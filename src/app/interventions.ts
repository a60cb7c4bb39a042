import { randomDirections, unitVector } from '../compute/directions/vectors';
import { isAbortError } from '../lib/abort';
import { messageOf } from '../lib/errors';
import { finiteNumber, wholeNumber } from '../lib/validate';
import type { InterventionTasks, SteerDirection, SteerForm } from '../panels/interventionTasks';
import type { useAtlasStore } from '../store';
import type { BuildRef, SteerPromptRequest } from '../workers/protocol';
import type { AtlasPipeline } from './pipeline';

type Store = typeof useAtlasStore;

/** Most tokens a continuation may ask for in the page. */
export const MAX_STEER_TOKENS = 200;

/**
 * The Interventions panel's work: steer a continuation of the user's prompt along a direction of the model (a
 * concept, a neuron, an SAE latent, a random direction as control) at any layer, in the model worker, with both
 * continuations streamed and cancellable. A bad request is refused with a message, and the run on screen stays.
 */
export class InterventionController implements InterventionTasks {
  private running: AbortController | null = null;
  private serial = 0;

  constructor(
    private readonly store: Store,
    private readonly pipeline: () => Promise<AtlasPipeline>,
    /** The workers' copy of the atlas on screen; null for an atlas opened from a file. */
    private readonly live: () => BuildRef | null,
  ) {}

  async steer(form: SteerForm): Promise<void> {
    const s = this.store.getState();
    let asked: { request: SteerPromptRequest; label: string; ref: BuildRef };
    try {
      asked = await this.request(form);
    } catch (e) {
      s.setSteerProblem(messageOf(e));
      return;
    }
    this.running?.abort();
    const abort = new AbortController();
    this.running = abort;
    const id = ++this.serial;
    const { request, label, ref } = asked;
    s.startSteering({ id, direction: label, layer: request.layer, alpha: request.alpha, prompt: request.prompt, tokens: { unsteered: [], steered: [] }, end: 'running', result: null });
    try {
      const result = await (await this.pipeline()).steer(ref.recording, request, abort.signal, (p) => {
        const now = this.store.getState();
        if ('stage' in p) now.setSteerWait(p.message);
        else now.addSteerToken(id, p);
      });
      this.store.getState().endSteering(id, 'done', result);
    } catch (e) {
      const now = this.store.getState();
      now.endSteering(id, isAbortError(e) ? 'cancelled' : 'failed');
      if (!isAbortError(e) && now.steering?.id === id) now.setSteerProblem(`Steering: ${messageOf(e)}`);
    } finally {
      if (this.running === abort) this.running = null;
    }
  }

  /** Stops the run under way; what it streamed stays on screen. */
  cancel(): void {
    this.running?.abort();
  }

  /** The form read and checked, the direction resolved to a unit vector of the layer: any problem is an error in words. */
  private async request(form: SteerForm): Promise<{ request: SteerPromptRequest; label: string; ref: BuildRef }> {
    const { atlas, model } = this.store.getState();
    if (!atlas || !model) throw new Error('Build an atlas of a GPT-2 first: steering continues a prompt with its model.');
    if (atlas.modality !== 'text') throw new Error('Steering generates text: build an atlas of a GPT-2 (for an image model, npm run steer -- --images).');
    const ref = this.live();
    if (!ref) throw new Error('This atlas was opened from a file: build it in this session to steer its model.');
    const layer = model.layers.find((l) => l.name === form.layer);
    if (!layer) throw new Error(`The model has no layer "${form.layer}".`);
    const width = layer.shape[layer.shape.length - 1];
    if (form.prompt.trim() === '') throw new Error('The prompt is empty: type some text to continue.');
    const alpha = finiteNumber(form.alpha, 'α');
    const maxTokens = wholeNumber(form.tokens, 'Tokens', 1, MAX_STEER_TOKENS);
    const seed = wholeNumber(form.seed, 'The seed', 0);
    const temperature = finiteNumber(form.temperature, 'The temperature');
    if (temperature < 0) throw new Error(`The temperature must be 0 (greedy) or more; got ${temperature}.`);
    const { direction, label } = await this.direction(form.direction, layer.name, width, ref);
    return { request: { layer: layer.name, direction, alpha, prompt: form.prompt, maxTokens, temperature, topK: 0, seed }, label, ref };
  }

  private async direction(asked: SteerDirection, layer: string, width: number, ref: BuildRef): Promise<{ direction: Float32Array; label: string }> {
    const s = this.store.getState();
    if (asked.kind === 'concept') {
      const concept = s.concepts.find((c) => c.id === asked.id);
      if (!concept) throw new Error('Pick a concept to steer along (learn one in the Concepts panel).');
      if (concept.layer !== layer) throw new Error(`The concept "${concept.name}" is a direction of ${concept.layer}, not of ${layer}: steer at ${concept.layer}, or learn the concept at ${layer}.`);
      return { direction: unitVector(concept.direction), label: `concept "${concept.name}"` };
    }
    if (asked.kind === 'neuron') {
      const n = wholeNumber(asked.index, 'The neuron', 0, width - 1);
      const direction = new Float32Array(width);
      direction[n] = 1;
      return { direction, label: `neuron ${n}` };
    }
    if (asked.kind === 'latent') {
      const sae = s.saeSummary;
      if (!sae) throw new Error('No SAE is held for this atlas: train or open one in the Dictionary panel.');
      if (sae.config.layer !== layer) throw new Error(`The SAE's latents are directions of ${sae.config.layer ?? 'another layer'}, not of ${layer}.`);
      const n = wholeNumber(asked.index, 'The latent', 0, sae.config.dSae - 1);
      const top = await (await this.pipeline()).saeLatentTop(ref.layout, n);
      return { direction: unitVector(top.decoder), label: `SAE latent ${n}` };
    }
    const seed = wholeNumber(asked.index, 'The random direction\'s seed', 0);
    return { direction: randomDirections(width, 1, seed), label: `random direction, seed ${seed}` };
  }
}
