import { iconCanvas } from '../atlas/iconCanvas';
import type { Atlas } from '../compute/atlas';
import type { CavMethod } from '../compute/directions/cav';
import type { Concept } from '../compute/directions/concept';
import { directionVector, studyDeck, studyReveal } from '../compute/directions/versusRandom';
import type { ProgressEvent, TopInput } from '../compute/types';
import type { PickedFile } from '../lib/inputFiles';
import { messageOf } from '../lib/errors';
import { isAbortError } from '../lib/abort';
import type { ConceptExamplesSource, DirectionTasks } from '../panels/directionTasks';
import { rendererFor, type TcavTargets } from '../renderers';
import type { TcavClass, useAtlasStore } from '../store';
import type { ConceptSide } from '../workers/computeService';
import type { BuildRef, DirectionOutputs, GradientTarget } from '../workers/protocol';
import type { AtlasPipeline } from './pipeline';

type Store = typeof useAtlasStore;


/** TCAV's default: 20 concept runs against 20 random concepts (the issue's minimum); what each tests is the renderer's (`tcavTests`). */
export const TCAV_RUNS = 20;
const SEED = 0;

/**
 * The concept panel's work: concepts from a selection, a cluster or folders of inputs; TCAV; the class filter.
 * Each task reports through the store's `directionsTask`; a failure is a message there, and what was on screen stays.
 * What differs between modalities (examples, TCAV's targets, the class filter's points) is the atlas's renderer's.
 */
export class DirectionsController implements DirectionTasks {
  private serial = 0;
  /** The workers' recording and layout of the atlas on screen; null for an atlas opened from a file. */
  live: BuildRef | null = null;
  /** The running task's cancel. */
  private running: AbortController | null = null;

  constructor(
    private readonly store: Store,
    private readonly pipeline: () => Promise<AtlasPipeline>,
  ) {}

  private atlas(): Atlas {
    const atlas = this.store.getState().atlas;
    if (!atlas) throw new Error('No atlas is open.');
    return atlas;
  }

  private ref(): BuildRef {
    if (this.live === null) throw new Error('this atlas was opened from a file: build it to compute on its inputs.');
    return this.live;
  }

  /** The model worker's recording of the atlas on screen, for the tasks that ask its model; an atlas without a model (precomputed activations) has none, and says so. */
  private recording(atlas: Atlas): number {
    const withoutModel = rendererFor(atlas).withoutModel;
    if (withoutModel) throw new Error(withoutModel);
    return this.ref().recording;
  }

  /** Progress of a task's long step, as its message; a step that waits for its turn on the model says what for. */
  private progress(name: string) {
    return (p: ProgressEvent) =>
      this.store.getState().setDirectionsTask({ name, status: 'running', message: p.stage === 'waiting' ? `${name}: ${p.message}` : `${name}: ${p.done} of ${p.total}…` });
  }

  /**
   * Runs a task with its name in the store; errors become the task's message. An answer that comes after another
   * atlas replaced the one it was asked about is dropped (`Stale`), so it never lands on the wrong atlas.
   */
  private async task<T>(name: string, work: (current: () => void, signal: AbortSignal) => Promise<T>): Promise<T | null> {
    const version = this.store.getState().atlasVersion;
    const abort = new AbortController();
    this.running = abort;
    const current = () => {
      if (this.store.getState().atlasVersion !== version) throw new Stale();
    };
    this.store.getState().setDirectionsTask({ name, status: 'running', message: `${name}…` });
    try {
      const result = await work(current, abort.signal);
      current();
      this.store.getState().setDirectionsTask(null);
      return result;
    } catch (e) {
      // Whatever went wrong with an atlas that is gone, the one on screen now has its own state.
      if (!(e instanceof Stale) && this.store.getState().atlasVersion === version) {
        this.store.getState().setDirectionsTask(isAbortError(e) ? null : { name, status: 'error', message: `${name}: ${messageOf(e)}` });
      }
      return null;
    } finally {
      if (this.running === abort) this.running = null;
    }
  }

  /** Stops the running task, in either worker (recording, gradients, neuron measures, versus random); what was on screen stays. */
  cancel(): void {
    this.running?.abort();
  }

  /** Learns a concept and makes it the one shown and colouring the atlas. */
  createConcept(source: ConceptExamplesSource, name: string, method: CavMethod): Promise<Concept | null> {
    return this.task('Learning the concept', async (current, signal) => {
      const atlas = this.atlas();
      const pipeline = await this.pipeline();
      let positives: ConceptSide;
      let negatives: ConceptSide | { kind: 'rest' } = { kind: 'rest' };
      let described: string;
      if (source.kind === 'inputs') {
        const { directions } = rendererFor(atlas);
        const record = async (files: PickedFile[], role: string) => {
          const { inputs, skipped } = await directions.readExamples(files);
          const recorded = await pipeline.conceptActivations(this.recording(atlas), inputs, atlas.layer.name, atlas.params, signal, this.progress('Recording the concept'));
          current();
          this.store.getState().addErrors([
            ...skipped.map((p) => ({ source: `${role}: ${p.file.path}`, message: p.reason })),
            ...recorded.errors.map((e) => ({ source: `${role}: ${e.name}`, message: e.reason })),
          ]);
          if (recorded.count === 0) throw new Error(`none of the ${files.length} ${role} file(s) could be used.`);
          return recorded;
        };
        const pos = await record(source.positives, 'concept');
        positives = { kind: 'rows', values: pos.values, count: pos.count };
        const unit = directions.exampleUnit;
        described = `${pos.count} ${unit}s of ${folderOf(source.positives)}`;
        if (source.negatives?.length) {
          const neg = await record(source.negatives, 'counterexample');
          negatives = { kind: 'rows', values: neg.values, count: neg.count };
          described += ` against ${neg.count} ${unit}s of ${folderOf(source.negatives)}`;
        } else described += ' against the rest of the atlas';
      } else {
        const points = source.kind === 'selection' ? this.store.getState().selection : source.points;
        if (points.length === 0) throw new Error('select some points on the atlas first (lasso or box).');
        positives = { kind: 'points', points: [...points] };
        described = `${source.kind === 'selection' ? `${points.length} selected points` : source.description} against the rest of the atlas`;
      }
      const id = `concept-${Date.now().toString(36)}-${++this.serial}`;
      const fit = await pipeline.learnConcept(this.ref().layout, { id, positives, negatives, method, seed: SEED });
      current();
      const concept: Concept = { id, name: name.trim() || `concept ${this.store.getState().concepts.length + 1}`, layer: atlas.layer.name, ...fit, source: described };
      this.store.getState().addConcept(concept);
      return concept;
    });
  }

  /** Removes a concept, and its examples from the compute worker. */
  removeConcept(id: string): void {
    this.store.getState().removeConcept(id);
    void this.pipeline().then((p) => p.forgetConcept(id)).catch(() => undefined);
  }

  /** The inputs at both ends of a concept. */
  async rankAlong(concept: Concept, topK: number): Promise<{ top: TopInput[]; bottom: TopInput[] }> {
    return (await this.pipeline()).rankAlong(this.ref().layout, concept.direction, topK);
  }

  /** For text: what the concept writes to the next-token logits. */
  async conceptOutputs(concept: Concept): Promise<DirectionOutputs> {
    return (await this.pipeline()).directionOutputs(concept.layer, concept.direction, 10);
  }

  /** For images: the concept's feature visualisation, as a PNG data URL. */
  async conceptImage(concept: Concept): Promise<string> {
    const batch = await (await this.pipeline()).visualise({ directions: concept.direction, priority: 'user', quality: this.store.getState().iconQuality });
    return iconCanvas({ rgba: batch.images[0], width: batch.width, height: batch.height, score: batch.scores[0] }).toDataURL('image/png');
  }

  /**
   * TCAV of a concept (Kim et al. 2018): image models test classes (`auto`: the most predicted), each on the
   * inputs predicted as it; GPT-2 tests next tokens, each on a seeded sample of the atlas's token positions.
   */
  runTcav(conceptId: string, targets: TcavTargets, runs = TCAV_RUNS): Promise<void | null> {
    return this.task('TCAV', async (current, signal) => {
      const atlas = this.atlas();
      const concept = this.store.getState().concepts.find((c) => c.id === conceptId);
      if (!concept) throw new Error('the concept is gone.');
      const pipeline = await this.pipeline();
      const tests = rendererFor(atlas).directions.tcavTests(atlas, targets);
      const tested = tests.filter((t) => t.input.length >= 2);
      if (tested.length === 0) throw new Error('no class has 2 inputs predicted as it.');
      const results: TcavClass[] = [];
      for (const t of tested) {
        const request = { recording: this.recording(atlas), layer: atlas.layer.name, target: t.target, input: t.input, position: t.position };
        const g = await pipeline.gradients(request, signal, this.progress(`TCAV of ${t.name}`));
        const result = await pipeline.conceptTcav(this.ref().layout, conceptId, g.gradients, t.input.length, { method: concept.method, runs, seed: SEED, classesTested: tested.length });
        current();
        const classIndex = t.target.kind === 'class' ? t.target.classIndex : g.tokenId!;
        results.push({ ...result, classIndex, className: t.target.kind === 'class' ? t.name : JSON.stringify(g.target), inputs: t.input.length });
        this.store.getState().setTcav({ conceptId, classes: [...results], runs, classesTested: tested.length });
      }
    });
  }

  /**
   * k neurons against k seeded random directions at the atlas's layer, with Network Dissection's check; with
   * `latents`, k of the SAE's live latents (the one held for this atlas) are scored beside them and tested against both.
   */
  versusRandom(k: number, topN: number, latents = false): Promise<void | null> {
    const name = latents ? 'Neurons, SAE latents and random directions' : 'Neurons against random directions';
    return this.task(name, async (current, signal) => {
      const atlas = this.atlas();
      const { labels, described } = rendererFor(atlas).directions.pointLabels(atlas);
      if (!Number.isInteger(k) || k < 2 || !Number.isInteger(topN) || topN < 2) throw new Error(`k and top need to be whole numbers of at least 2; got ${k} and ${topN}.`);
      const pipeline = await this.pipeline();
      const layout = this.ref().layout;
      const options = { k, topN, seed: SEED, rotations: 10, threshold: 0.5, latents: latents ? await pipeline.saeLatents(layout) : null };
      const result = await pipeline.versusRandom(layout, labels, options, signal, this.progress(name));
      current();
      this.store.getState().setVersus({ result, labels: described });
    });
  }

  /** Starts the blind study over the last neurons-versus-random result: its directions shuffled, none marked. */
  startStudy(seed: number = SEED): void {
    const versus = this.store.getState().versus;
    if (!versus) return;
    const deck = studyDeck(versus.result, seed);
    this.store.getState().setStudy({ id: ++this.serial, deck, marks: deck.cards.map(() => false), reveal: null });
  }

  /** Reveals which cards were neurons: both rates and Fisher's exact test. */
  revealStudy(): void {
    const study = this.store.getState().study;
    if (study) this.store.getState().setStudy({ ...study, reveal: studyReveal(study.deck, study.marks) });
  }

  /** Polysemanticity of the atlas's layer by neuron embeddings, over the atlas's inputs. */
  polysemanticity(threshold: number | null, minMembers: number): Promise<void | null> {
    return this.task('Measuring polysemanticity', async (current, signal) => {
      const atlas = this.atlas();
      if (threshold !== null && !(threshold >= -1 && threshold <= 1)) throw new Error(`the threshold is a cosine similarity, from -1 to 1; got ${threshold}.`);
      if (!Number.isInteger(minMembers) || minMembers < 1) throw new Error(`m is a whole number of examples, at least 1; got ${minMembers}.`);
      const result = await (await this.pipeline()).polysemanticity(this.recording(atlas), atlas.layer.name, threshold, minMembers, signal, this.progress('Measuring polysemanticity'));
      current();
      this.store.getState().setPolysemanticity(result);
    });
  }

  /** Feature visualisations of the study's cards (image atlases), in card order, as PNG data URLs. */
  async studyImages(): Promise<string[]> {
    const { study, versus, atlas } = this.store.getState();
    if (!study || !versus || !atlas) return [];
    const dim = atlas.layer.dim;
    const directions = new Float32Array(study.deck.key.length * dim);
    study.deck.key.forEach((k, c) => directions.set(directionVector(versus.result.directions[k.direction], dim), c * dim));
    const batch = await (await this.pipeline()).visualise({ directions, priority: 'user', quality: this.store.getState().iconQuality });
    return batch.images.map((rgba, k) => iconCanvas({ width: batch.width, height: batch.height, rgba, score: batch.scores[k] }).toDataURL('image/png'));
  }

  /** A neuron's feature cluster as a concept: its members that are points of the atlas, against the rest. */
  conceptFromCluster(neuron: number, cluster: number, method: CavMethod): Promise<Concept | null> {
    const atlas = this.atlas();
    const found = this.store.getState().polysemanticity?.neurons.find((n) => n.index === neuron)?.clusters[cluster];
    if (!found) return Promise.resolve(null);
    const points = pointsOf(atlas, found.members.input, found.members.position);
    const name = `neuron ${neuron} cluster ${cluster + 1}`;
    return this.createConcept({ kind: 'points', points, description: `${points.length} points of ${name} (${found.size} examples)` }, name, method);
  }

  /**
   * The Activation Atlas's class filter: each point's activation x gradient of the class's (or next token's)
   * logit; the atlas tints each cell by the sum over its members (of those the renderer picks: text samples them).
   */
  classFilter(target: GradientTarget): Promise<void | null> {
    return this.task('Class attribution', async (current, signal) => {
      const atlas = this.atlas();
      const pipeline = await this.pipeline();
      const n = atlas.points.input.length;
      const points = rendererFor(atlas).directions.classFilterPoints(atlas);
      const g = await pipeline.gradients(
        { recording: this.recording(atlas), layer: atlas.layer.name, target, input: points.map((p) => atlas.points.input[p]), position: points.map((p) => atlas.points.position[p]) },
        signal,
        this.progress('Class attribution'),
      );
      const sampled = await pipeline.attribution(this.ref().layout, points, g.gradients);
      current();
      const values = new Float32Array(n).fill(Number.NaN);
      points.forEach((p, k) => (values[p] = sampled[k]));
      const name = target.kind === 'class' ? g.target : JSON.stringify(g.target);
      this.store.getState().setColourBy({ kind: 'class', target: name, values });
    });
  }
}

/**
 * The atlas points at the given (input, position) pairs; where the atlas did not record that position (it
 * pooled, or sampled others), the input's recorded points stand in for it.
 */
export function pointsOf(atlas: Atlas, input: readonly number[], position: readonly number[]): number[] {
  const at = new Map<string, number>();
  const ofInput = new Map<number, number[]>();
  atlas.points.input.forEach((i, p) => {
    at.set(`${i}:${atlas.points.position[p]}`, p);
    const points = ofInput.get(i);
    if (points) points.push(p);
    else ofInput.set(i, [p]);
  });
  const found = new Set<number>();
  input.forEach((i, k) => {
    const p = at.get(`${i}:${position[k]}`);
    for (const q of p !== undefined ? [p] : (ofInput.get(i) ?? [])) found.add(q);
  });
  return [...found].sort((a, b) => a - b);
}

/** Thrown inside a task whose atlas was replaced: its answer is dropped. */
class Stale extends Error {}

/** The folder the user picked, for a concept's description. */
function folderOf(files: PickedFile[]): string {
  const first = files[0]?.path.split('/') ?? [];
  return first.length > 1 ? `${first[0]}/` : `${files.length} file(s)`;
}
