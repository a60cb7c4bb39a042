import type { Atlas } from '../compute/atlas';
import type { CavMethod } from '../compute/directions/cav';
import type { Concept } from '../compute/directions/concept';
import { mostPredicted } from '../compute/directions/tcav';
import { studyDeck, studyReveal, type ScoredDirection } from '../compute/directions/versusRandom';
import { range, shuffle } from '../compute/directions/vectors';
import type { ProgressEvent, TopInput } from '../compute/types';
import { neuronDirections } from '../featureVis/directions';
import { isImageFile, type PickedFile } from '../lib/inputFiles';
import { isAbortError } from '../lib/abort';
import { createRng } from '../lib/rng';
import type { TcavClass, useAtlasStore } from '../store';
import type { ConceptSide } from '../workers/computeService';
import type { BuildRef, DirectionOutputs, GradientTarget, InputSet } from '../workers/protocol';
import { iconCanvas } from './featureVisJobs';
import type { AtlasPipeline } from './pipeline';

type Store = typeof useAtlasStore;

const messageOf = (e: unknown): string => (e instanceof Error ? e.message : String(e));

/** TCAV's defaults: 20 concept runs against 20 random concepts (the issue's minimum), classes most predicted. */
export const TCAV_RUNS = 20;
const AUTO_CLASSES = 3;
/** Inputs per class whose gradients are tested: enough for a stable fraction, quick on a CPU. */
const MAX_CLASS_INPUTS = 100;
/** GPT-2 has a gradient per token position: a seeded sample of the atlas's points stands for its inputs. */
const MAX_TEXT_POINTS = 200;
/** The class filter's sample of text points (every image point is used). */
const MAX_TEXT_FILTER_POINTS = 600;
const SEED = 0;

/** Where a concept's examples come from. */
export type ConceptExamplesSource =
  | { kind: 'selection' }
  | { kind: 'points'; points: number[]; description: string }
  | { kind: 'inputs'; positives: PickedFile[]; negatives: PickedFile[] | null };

/** The items of a "next tokens" field: each a word that follows a space (" whale"), or a "quoted" exact token. */
export function parseTokenList(text: string): string[] {
  return text
    .split(',')
    .map((t) => t.trim())
    .filter((t) => t.length > 0)
    .map((t) => (/^".*"$/.test(t) ? t.slice(1, -1) : ` ${t}`));
}

/** A seeded sample of at most k of 0..n-1, ascending. */
export function samplePoints(n: number, k: number, seed: number): number[] {
  if (n <= k) return Array.from(range(n));
  return Array.from(shuffle(range(n), createRng(seed)).subarray(0, k)).sort((a, b) => a - b);
}

/** A scored direction as a vector of the layer: its random draw, or the neuron's axis. */
export function directionVector(d: ScoredDirection, dim: number): Float32Array {
  return d.direction ?? neuronDirections(dim, [d.index]);
}

/**
 * The concept panel's work: concepts from a selection, a cluster or folders of inputs; TCAV; the class filter.
 * Each task reports through the store's `directionsTask`; a failure is a message there, and what was on screen stays.
 */
export class DirectionsController {
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
        const record = async (files: PickedFile[], role: string) => {
          const { inputs, skipped } = await inputSetOf(files, atlas);
          const recorded = await pipeline.conceptActivations(this.ref().recording, inputs, atlas.layer.name, atlas.params, signal, this.progress('Recording the concept'));
          current();
          this.store.getState().addErrors([
            ...skipped.map((p) => ({ source: `${role}: ${p.path}`, message: `Not an image (${p.file.type || 'unknown type'}); skipped.` })),
            ...recorded.errors.map((e) => ({ source: `${role}: ${e.name}`, message: e.reason })),
          ]);
          if (recorded.count === 0) throw new Error(`none of the ${files.length} ${role} file(s) could be used.`);
          return recorded;
        };
        const pos = await record(source.positives, 'concept');
        positives = { kind: 'rows', values: pos.values, count: pos.count };
        const unit = atlas.modality === 'text' ? 'token' : 'input';
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
  async conceptImage(concept: Concept): Promise<{ rgba: Uint8ClampedArray; width: number; height: number; score: number }> {
    const batch = await (await this.pipeline()).visualise({ directions: concept.direction, priority: 'user' });
    return { rgba: batch.images[0], width: batch.width, height: batch.height, score: batch.scores[0] };
  }

  /**
   * TCAV of a concept (Kim et al. 2018): image models test classes (`auto`: the most predicted), each on the
   * inputs predicted as it; GPT-2 tests next tokens, each on a seeded sample of the atlas's token positions.
   */
  runTcav(conceptId: string, classes: 'auto' | number[] | string[], runs = TCAV_RUNS): Promise<void | null> {
    return this.task('TCAV', async (current, signal) => {
      const atlas = this.atlas();
      const concept = this.store.getState().concepts.find((c) => c.id === conceptId);
      if (!concept) throw new Error('the concept is gone.');
      const pipeline = await this.pipeline();
      type Test = { target: GradientTarget; name: string; input: number[]; position: number[] };
      let tests: Test[];
      if (atlas.modality === 'text') {
        const tokens = classes === 'auto' ? [] : [...new Set((classes as (string | number)[]).map(String))];
        if (tokens.length === 0) throw new Error('name the next token(s) to test, e.g. whale, sea.');
        const points = samplePoints(atlas.points.input.length, MAX_TEXT_POINTS, SEED);
        const input = points.map((p) => atlas.points.input[p]);
        const position = points.map((p) => atlas.points.position[p]);
        tests = tokens.map((text) => ({ target: { kind: 'token', text }, name: JSON.stringify(text), input, position }));
      } else {
        const names = atlas.model.classNames;
        if (!names) throw new Error('this model has no class output to test.');
        const given = classes === 'auto' ? null : [...new Set(classes as number[])];
        const bad = given?.find((k) => !Number.isInteger(k) || k < 0 || k >= names.length);
        if (bad !== undefined) throw new Error(`${bad} is not a class of this model (0 to ${names.length - 1}).`);
        const wanted = given ?? mostPredicted(atlas.inputs.predicted, AUTO_CLASSES);
        tests = wanted.map((k) => {
          const members = atlas.inputs.predicted.flatMap((c, i) => (c === k ? [i] : []));
          const input = samplePoints(members.length, MAX_CLASS_INPUTS, SEED).map((i) => members[i]);
          return { target: { kind: 'class', classIndex: k }, name: names[k] ?? `class ${k}`, input, position: input.map(() => -1) };
        });
      }
      const tested = tests.filter((t) => t.input.length >= 2);
      if (tested.length === 0) throw new Error('no class has 2 inputs predicted as it.');
      const results: TcavClass[] = [];
      for (const t of tested) {
        const request = { recording: this.ref().recording, layer: atlas.layer.name, target: t.target, input: t.input, position: t.position };
        const g = await pipeline.gradients(request, signal, this.progress(`TCAV of ${t.name}`));
        const result = await pipeline.conceptTcav(this.ref().layout, conceptId, g.gradients, t.input.length, { method: concept.method, runs, seed: SEED, classesTested: tested.length });
        current();
        const classIndex = t.target.kind === 'class' ? t.target.classIndex : g.tokenId!;
        results.push({ ...result, classIndex, className: t.target.kind === 'class' ? t.name : JSON.stringify(g.target), inputs: t.input.length });
        this.store.getState().setTcav({ conceptId, classes: [...results], runs, classesTested: tested.length });
      }
    });
  }

  /** k neurons against k seeded random directions at the atlas's layer, with Network Dissection's check. */
  versusRandom(k: number, topN: number): Promise<void | null> {
    const name = 'Neurons against random directions';
    return this.task(name, async (current, signal) => {
      const atlas = this.atlas();
      const { labels, described } = pointLabels(atlas);
      if (!Number.isInteger(k) || k < 2 || !Number.isInteger(topN) || topN < 2) throw new Error(`k and top need to be whole numbers of at least 2; got ${k} and ${topN}.`);
      const options = { k, topN, seed: SEED, rotations: 10, threshold: 0.5 };
      const result = await (await this.pipeline()).versusRandom(this.ref().layout, labels, options, signal, this.progress(name));
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
      const result = await (await this.pipeline()).polysemanticity(this.ref().recording, atlas.layer.name, threshold, minMembers, signal, this.progress('Measuring polysemanticity'));
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
    const batch = await (await this.pipeline()).visualise({ directions, priority: 'user' });
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
   * logit; the atlas tints each cell by the sum over its members. Text atlases use a seeded sample of points.
   */
  classFilter(target: GradientTarget): Promise<void | null> {
    return this.task('Class attribution', async (current, signal) => {
      const atlas = this.atlas();
      const pipeline = await this.pipeline();
      const n = atlas.points.input.length;
      const points = atlas.modality === 'text' ? samplePoints(n, MAX_TEXT_FILTER_POINTS, SEED) : Array.from(range(n));
      const g = await pipeline.gradients(
        { recording: this.ref().recording, layer: atlas.layer.name, target, input: points.map((p) => atlas.points.input[p]), position: points.map((p) => atlas.points.position[p]) },
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

/** Labels per point for Network Dissection's purity: true labels where the atlas has them, else predicted classes; text: the token. */
function pointLabels(atlas: Atlas): { labels: Int32Array | 'key' | null; described: string } {
  if (atlas.modality === 'text') return { labels: 'key', described: 'the recorded token' };
  const truth = atlas.inputs.label.some((l) => l >= 0);
  const perInput = truth ? atlas.inputs.label : atlas.inputs.predicted;
  if (!perInput.some((l) => l >= 0)) return { labels: null, described: 'none' };
  return { labels: Int32Array.from(atlas.points.input, (i) => perInput[i]), described: truth ? 'true labels' : 'predicted classes' };
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

/** Concept files as the model worker takes them (images for an image atlas, texts for a text atlas), and the files skipped. */
async function inputSetOf(files: PickedFile[], atlas: Atlas): Promise<{ inputs: InputSet; skipped: PickedFile[] }> {
  if (atlas.modality === 'image') {
    const images = files.filter((p) => isImageFile(p.file));
    if (images.length === 0) throw new Error(`none of the ${files.length} file(s) is an image.`);
    const inputs: InputSet = { kind: 'images', images: images.map((p) => ({ name: p.path, label: null, blob: p.file })) };
    return { inputs, skipped: files.filter((p) => !images.includes(p)) };
  }
  return { inputs: { kind: 'text', texts: await Promise.all(files.map(async (p) => ({ name: p.path, label: null, text: await p.file.text() }))) }, skipped: [] };
}
