/**
 * The directions the steering and ablation commands take (--direction), and the texts they read: shared by
 * npm run steer and npm run ablate.
 */
import { readFile } from 'node:fs/promises';
import * as tf from '@tensorflow/tfjs';
import { fitConcept } from '../compute/directions/concept';
import { randomDirections, unitVector } from '../compute/directions/vectors';
import { parseAtlas } from '../export/atlasFile';
import { readTidy } from '../model/readTensors';
import { documentsFromFiles, windows as windowsOf } from '../model/text/documents';
import type { Gpt2Model } from '../model/text/gpt2';
import { watchedTokens } from '../model/text/steering';
import { encode } from '../model/text/tokenizer';
import { wholeNumber } from '../lib/validate';
import { textFilesFromPath } from './nodeIo';
import { openSaeForLayer, readSaeFolder } from './saeFolder';

/** Where --direction's named directions come from. */
export interface DirectionSources {
  atlas?: string;
  grid?: number;
  sae?: string;
  /** The counterexamples of a texts: concept (a file or folder of texts). */
  negatives?: string;
  /** Which side the layer is on, for an SAE's hook name; default: text. */
  modality?: 'text' | 'image';
  /** The token windows a words: direction is centred on: the texts the command runs the model on. */
  centre?: readonly Int32Array[];
}

/** The direction spec's forms, for messages and --help. */
export const DIRECTION_FORMS = 'neuron:N, random:SEED, concept:NAME, cell:I,J, latent:N, texts:PATH or words:W1,W2';

/** The unit direction `spec` names, `width` wide, at `layer`; `model` records the texts of a texts: concept. */
export async function directionOf(spec: string, width: number, layer: string, sources: DirectionSources, model?: Gpt2Model): Promise<Float32Array> {
  const [kind, arg = ''] = [spec.slice(0, spec.indexOf(':')), spec.slice(spec.indexOf(':') + 1)];
  let v: Float32Array;
  if (kind === 'neuron') {
    const n = wholeNumber(arg, '--direction neuron:N', 0);
    if (n >= width) throw new Error(`${layer} has units 0..${width - 1}; got neuron:${n}.`);
    v = new Float32Array(width);
    v[n] = 1;
  } else if (kind === 'random') {
    v = randomDirections(width, 1, wholeNumber(arg, '--direction random:SEED', 0));
  } else if (kind === 'concept' || kind === 'cell') {
    if (!sources.atlas) throw new Error(`--direction ${kind}: needs --atlas <file>.`);
    const atlas = parseAtlas(await readFile(sources.atlas, 'utf8'));
    if (atlas.layer.name !== layer) throw new Error(`${sources.atlas} is an atlas of ${atlas.layer.name}, not of ${layer}.`);
    if (kind === 'concept') {
      const concept = atlas.concepts?.find((c) => c.name === arg);
      if (!concept) throw new Error(`${sources.atlas} has no concept "${arg}"; it has ${atlas.concepts?.map((c) => `"${c.name}"`).join(', ') || 'none'}.`);
      v = Float32Array.from(concept.direction);
    } else {
      const [i, j] = arg.split(',').map((x) => wholeNumber(x.trim(), '--direction cell:I,J', 0));
      const level = sources.grid === undefined ? atlas.levels[0] : atlas.levels.find((l) => l.size === sources.grid);
      if (!level) throw new Error(`${sources.atlas} has no ${sources.grid}-cell grid; it has ${atlas.levels.map((l) => l.size).join(', ')}.`);
      const cell = level.cells.find((c) => c.i === i && c.j === j);
      if (!cell) throw new Error(`The ${level.size} x ${level.size} grid has no points in cell ${i},${j}.`);
      v = Float32Array.from(cell.mean);
    }
  } else if (kind === 'latent') {
    if (!sources.sae) throw new Error('--direction latent: needs --sae <folder>.');
    const sae = openSaeForLayer(await readSaeFolder(sources.sae), sources.modality ?? 'text', layer, width);
    const n = wholeNumber(arg, '--direction latent:N', 0);
    if (n >= sae.config.dSae) throw new Error(`The SAE has latents 0..${sae.config.dSae - 1}; got latent:${n}.`);
    v = sae.weights.W_dec.slice(n * width, (n + 1) * width);
  } else if (kind === 'words') {
    if (!model) throw new Error('--direction words: needs a GPT-2.');
    if (!sources.centre?.length) throw new Error('--direction words: needs texts to centre on.');
    v = model.wordsDirection(layer, watchedTokens(arg.split(',')), sources.centre);
  } else if (kind === 'texts') {
    if (!sources.negatives) throw new Error('--direction texts: needs --negatives <file|folder> (the counterexamples).');
    if (!model) throw new Error('--direction texts: needs the model to record the texts.');
    if (!arg) throw new Error('--direction texts:PATH needs a file or folder of texts.');
    v = await textsConcept(model, layer, arg, sources.negatives);
  } else {
    throw new Error(`--direction must be ${DIRECTION_FORMS}; got "${spec}".`);
  }
  if (v.length !== width) throw new Error(`The direction has ${v.length} components, but ${layer} is ${width} wide.`);
  const unit = unitVector(v);
  if (!unit.some((x) => x !== 0)) throw new Error(`The direction ${spec} is zero.`);
  return unit;
}

/** Every token's row but each window's first (<|endoftext|>) of `layer` over the texts at `path`, in windows of the model's context. */
async function textRows(model: Gpt2Model, layer: string, path: string, width: number): Promise<{ rows: Float32Array; count: number }> {
  const { documents } = documentsFromFiles(await textFilesFromPath(path));
  const parts: Float32Array[] = [];
  for (const doc of documents) {
    for (const window of windowsOf(encode(doc.text), model.config.nPositions)) {
      if (window.length < 2) continue;
      parts.push(readTidy(() => model.record([window], layer).slice([0, 1, 0], [1, -1, -1])));
    }
  }
  const count = parts.reduce((n, p) => n + p.length / width, 0);
  if (count === 0) throw new Error(`${path} holds no text of two tokens or more.`);
  const rows = new Float32Array(count * width);
  let at = 0;
  for (const p of parts) {
    rows.set(p, at);
    at += p.length;
  }
  return { rows, count };
}

/**
 * A concept learnt from texts: the difference of the means of the layer's token rows over the texts at `positives`
 * and at `negatives` (the project's difference-of-means CAV, fitConcept), unit length.
 */
async function textsConcept(model: Gpt2Model, layer: string, positives: string, negatives: string): Promise<Float32Array> {
  const width = model.layers.find((l) => l.name === layer)!.width;
  const pos = await textRows(model, layer, positives, width);
  const neg = await textRows(model, layer, negatives, width);
  return fitConcept({ dim: width, pos: pos.rows, nPos: pos.count, neg: neg.rows, nNeg: neg.count }, 'difference-of-means', 0).direction;
}

/** The first `count` windows of up to `contextTokens` tokens (each starting with <|endoftext|>) of the texts at `path`, in order; `asked` says which flag asked for them. */
export async function contextsFrom(path: string, count: number, contextTokens: number, asked: string): Promise<Int32Array[]> {
  const { documents } = documentsFromFiles(await textFilesFromPath(path));
  const out: Int32Array[] = [];
  for (const doc of documents) {
    for (const window of windowsOf(encode(doc.text), contextTokens)) {
      if (window.length >= 2 && out.length < count) out.push(window);
    }
    if (out.length === count) break;
  }
  if (Number.isFinite(count) ? out.length < count : out.length === 0) {
    throw new Error(`${path} gives ${out.length} contexts of 2 tokens or more; ${Number.isFinite(count) ? count : 'one or more'} are needed (${asked}).`);
  }
  return out;
}

