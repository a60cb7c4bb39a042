import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseAtlas } from '../export/atlasFile';
import { createRng, gaussian } from '../lib/rng';
import { readSaeLens, SAE_CFG_FILE, SAE_WEIGHTS_FILE } from '../model/sae/saelens';
import { documentsFromFiles, windows as windowsOf } from '../model/text/documents';
import { generate } from '../model/text/generate';
import type { Intervention } from '../model/text/gpt2';
import { probabilityShift, projectionScale, type ProbabilityShift } from '../model/text/steering';
import type { TextModel } from '../model/text/textModel';
import { decode, encode } from '../model/text/tokenizer';
import { wholeNumber } from './cliText';
import { textFilesFromPath } from './nodeIo';

/** What npm run steer writes. */
export interface SteerReport {
  version: 1;
  model: string;
  layer: string;
  direction: string;
  alpha: number;
  /** The unit α is counted in: the root mean square of x·v over the scale's contexts. */
  scale: number;
  decoding: { tokens: number; temperature: number; topK: number; seed: number };
  prompt: string;
  promptIds: number[];
  unsteered: { ids: number[]; text: string; stop: string };
  steered: { ids: number[]; text: string; stop: string };
  heldOut: ProbabilityShift;
}

export interface DirectionSources {
  atlas?: string;
  grid?: number;
  sae?: string;
}

/** The unit direction `spec` names, `width` wide, at `layer`. */
export async function directionOf(spec: string, width: number, layer: string, sources: DirectionSources): Promise<Float32Array> {
  const [kind, arg = ''] = [spec.slice(0, spec.indexOf(':')), spec.slice(spec.indexOf(':') + 1)];
  let v: Float32Array;
  if (kind === 'neuron') {
    const n = wholeNumber(arg, '--direction neuron:N', 0);
    if (n >= width) throw new Error(`${layer} has units 0..${width - 1}; got neuron:${n}.`);
    v = new Float32Array(width);
    v[n] = 1;
  } else if (kind === 'random') {
    const random = createRng(wholeNumber(arg, '--direction random:SEED', 0));
    v = Float32Array.from({ length: width }, () => gaussian(random));
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
    const [cfg, weights] = await Promise.all([readFile(join(sources.sae, SAE_CFG_FILE), 'utf8'), readFile(join(sources.sae, SAE_WEIGHTS_FILE))]);
    const sae = readSaeLens({ cfg, weights: new Uint8Array(weights) }, { modality: 'text', target: { layer, width } });
    const n = wholeNumber(arg, '--direction latent:N', 0);
    if (n >= sae.config.dSae) throw new Error(`The SAE has latents 0..${sae.config.dSae - 1}; got latent:${n}.`);
    v = sae.weights.W_dec.slice(n * width, (n + 1) * width);
  } else {
    throw new Error(`--direction must be neuron:N, random:SEED, concept:NAME, cell:I,J or latent:N; got "${spec}".`);
  }
  if (v.length !== width) throw new Error(`The direction has ${v.length} components, but ${layer} is ${width} wide.`);
  const norm = Math.hypot(...v);
  if (!(norm > 0)) throw new Error(`The direction ${spec} is zero.`);
  return v.map((x) => x / norm);
}

/** The first `count` windows of up to `contextTokens` tokens (each starting with <|endoftext|>) of the texts at `path`, in order. */
async function contextsFrom(path: string, count: number, contextTokens: number): Promise<Int32Array[]> {
  const { documents } = documentsFromFiles(await textFilesFromPath(path));
  const out: Int32Array[] = [];
  for (const doc of documents) {
    for (const window of windowsOf(encode(doc.text), contextTokens)) {
      if (window.length >= 2 && out.length < count) out.push(window);
    }
    if (out.length === count) break;
  }
  if (out.length < count) throw new Error(`${path} gives ${out.length} contexts of 2 tokens or more; ${count} are needed (--contexts ${count / 2}).`);
  return out;
}

export interface SteerOptions {
  model: string;
  layer: string;
  direction: string;
  alpha: number;
  prompt: string;
  tokens: number;
  temperature: number;
  topK: number;
  seed: number;
  text: string;
  contexts: number;
  contextTokens: number;
  sources: DirectionSources;
}

/** Generates with and without the steering vector, and measures its effect on held-out contexts. */
export async function steer(options: SteerOptions, model: TextModel): Promise<SteerReport> {
  const layer = model.layer(options.layer);
  const width = layer.shape[1];
  const direction = await directionOf(options.direction, width, layer.name, options.sources);
  const contexts = await contextsFrom(options.text, 2 * options.contexts, Math.min(options.contextTokens, model.contextLength));
  const scale = projectionScale(model.gpt2, layer.name, direction, contexts.slice(0, options.contexts));
  const intervention: Intervention = { kind: 'add', layer: layer.name, vector: direction.map((x) => options.alpha * scale * x) };
  const promptIds = encode(options.prompt);
  if (promptIds.length === 0) throw new Error('--prompt has no tokens.');
  const decoding = { maxTokens: options.tokens, temperature: options.temperature, topK: options.topK, seed: options.seed };
  const [unsteered, steered] = [await generate(model.gpt2, promptIds, decoding), await generate(model.gpt2, promptIds, { ...decoding, intervention })];
  const continuation = (g: { ids: number[]; stop: string }) => ({ ids: g.ids, text: decode(g.ids), stop: g.stop });
  return {
    version: 1,
    model: model.info.name,
    layer: layer.name,
    direction: options.direction,
    alpha: options.alpha,
    scale,
    decoding: { tokens: options.tokens, temperature: options.temperature, topK: options.topK, seed: options.seed },
    prompt: options.prompt,
    promptIds: Array.from(promptIds),
    unsteered: continuation(unsteered),
    steered: continuation(steered),
    heldOut: probabilityShift(model.gpt2, contexts.slice(options.contexts), intervention),
  };
}

