import type * as tf from '@tensorflow/tfjs';
import type { TextModelInfo } from '../../compute/atlas';
import { ModelUseError, type LayerInfo } from '../recordTable';
import { Gpt2Model, gpt2Size, isGpt2MaskBuffer } from './gpt2';
import { parseGpt2Config, type Gpt2Config } from './gpt2Config';
import { readSafetensors, readSafetensorsHeader, readShardedSafetensors, type HostTensor } from './safetensors';
import { GPT2_VOCAB_SIZE } from './tokenizer';

/** A file of a checkpoint, by name (a path is fine: only the last segment counts). */
export interface ModelFile {
  name: string;
  bytes: Uint8Array | ArrayBuffer;
}

/**
 * The built-in GPT-2s, by the folder under models/ that holds each, and what the app and the CLI call them:
 * 64 wide, trained on Moby-Dick; and 128 wide, trained on Moby-Dick and the King James Bible (model cards there).
 */
export const BUILT_IN_TEXT_MODELS = {
  small: { folder: 'text-gpt2', name: 'moby-gpt2 (built-in)' },
  wide: { folder: 'text-gpt2-wide', name: 'moby-kjv-gpt2-wide (built-in)' },
} as const;
export type BuiltInTextModel = keyof typeof BUILT_IN_TEXT_MODELS;
/** The default built-in GPT-2's name: the small one, which the page's "Built-in GPT-2" and the CLI's `default` load. */
export const BUILT_IN_TEXT_MODEL_NAME = BUILT_IN_TEXT_MODELS.small.name;

/**
 * Weights a TF.js backend can hold, as float32 bytes: 2 GiB (2,147,483,648 bytes), what the wasm backend's
 * 32-bit memory safely gives one model next to the activations it computes.
 */
export const DEFAULT_MAX_MODEL_BYTES = 2 * 1024 ** 3;

const CONFIG = 'config.json';
const SINGLE = 'model.safetensors';
const INDEX = 'model.safetensors.index.json';

/** The published GPT-2 sizes, to say which would fit when a model does not. */
const GPT2_SIZES: [string, Pick<Gpt2Config, 'nEmbd' | 'nLayer'>][] = [
  ['small', { nEmbd: 768, nLayer: 12 }],
  ['medium', { nEmbd: 1024, nLayer: 24 }],
  ['large', { nEmbd: 1280, nLayer: 36 }],
  ['XL', { nEmbd: 1600, nLayer: 48 }],
];

type Weights = { kind: 'single'; file: ModelFile } | { kind: 'sharded'; index: ModelFile; shards: Map<string, Uint8Array | ArrayBuffer> };

/** A GPT-2 checkpoint loaded for the atlas: its description, its recordable layers and its forward. */
export class TextModel {
  readonly info: TextModelInfo;
  /** Every block's h.I.attn, h.I.mlp.act and h.I, each [contextLength, width] with positions [contextLength]. */
  readonly layers: LayerInfo[];
  /** The middle block's MLP neurons. */
  readonly defaultLayer: string;

  private constructor(readonly gpt2: Gpt2Model, name: string) {
    const { config } = gpt2;
    this.info = { name, kind: 'gpt2', nLayer: config.nLayer, nEmbd: config.nEmbd, contextLength: config.nPositions, vocabSize: config.vocabSize, classNames: null };
    this.layers = gpt2.layers.map((l) => ({ name: l.name, shape: [config.nPositions, l.width], positionShape: [config.nPositions] }));
    this.defaultLayer = `h.${Math.floor(config.nLayer / 2)}.mlp.act`;
  }

  /**
   * Loads config.json with model.safetensors, or with model.safetensors.index.json and its shards. The
   * config, the vocabulary and the size are checked before any weight is decoded; every problem is a
   * ModelUseError that names the file.
   */
  static async fromFiles(files: readonly ModelFile[], name: string, options: { maxBytes?: number } = {}): Promise<TextModel> {
    const byName = new Map<string, ModelFile>();
    for (const file of files) if (!byName.has(baseName(file.name))) byName.set(baseName(file.name), file);
    const config = readConfig(byName);
    const weights = findWeights(byName);
    checkSize(config, hasOwnLmHead(weights), options.maxBytes ?? DEFAULT_MAX_MODEL_BYTES);
    const tensors = readWeights(weights);
    try {
      return new TextModel(Gpt2Model.fromTensors(config, tensors), name);
    } catch (e) {
      throw namingFile(weights.kind === 'single' ? SINGLE : `${INDEX} and its shards`, e);
    }
  }

  get contextLength(): number {
    return this.info.contextLength;
  }

  /** The layer by name, or a ModelUseError listing the layers. */
  layer(name: string): LayerInfo {
    const info = this.layers.find((l) => l.name === name);
    if (!info) {
      throw new ModelUseError(`Layer "${name}" cannot be recorded in model "${this.info.name}"; its layers are h.I.attn, h.I.mlp.act and h.I for I in 0..${this.info.nLayer - 1}.`);
    }
    return info;
  }

  /** Activations of one layer for equal-length windows: [windows, tokens, width]; the caller disposes. */
  record(tokenIds: Int32Array[], layer: string): tf.Tensor3D {
    this.layer(layer);
    return this.gpt2.record(tokenIds, layer);
  }

  /** Frees the weights. */
  dispose(): void {
    this.gpt2.dispose();
  }
}

/** Whether a checkpoint reads the GPT-2 tokenizer's ids: its vocabulary must be exactly 50257 tokens. */
export function vocabularyMatches(config: Pick<Gpt2Config, 'vocabSize'>): boolean {
  return config.vocabSize === GPT2_VOCAB_SIZE;
}

/** Refuses a model whose float32 weights pass `maxBytes`, saying how large it is and what would fit. */
export function checkSize(config: Gpt2Config, ownLmHead: boolean, maxBytes: number): void {
  const { parameters, bytes } = gpt2Size(config, { tiedLmHead: !ownLmHead });
  if (bytes <= maxBytes) return;
  const fitting = GPT2_SIZES.filter(([, size]) => gpt2Size({ ...config, ...size, nPositions: 1024, vocabSize: GPT2_VOCAB_SIZE, nInner: 4 * size.nEmbd }).bytes <= maxBytes);
  const examples = fitting.length ? ` (GPT-2 ${fitting.map(([label]) => label).join(' and ')} fit)` : '';
  throw new ModelUseError(
    `This GPT-2 is too large: ${millions(parameters)} parameters take ${gigabytes(bytes)} as float32, more than the ${gigabytes(maxBytes)} ` +
      `(${maxBytes.toLocaleString('en')} bytes) this backend can hold. Models of up to ${millions(Math.floor(maxBytes / 4))} parameters fit${examples}.`,
  );
}

const millions = (n: number) => `${(n / 1e6).toLocaleString('en', { maximumFractionDigits: n < 1e7 ? 1 : 0 })} M`;
const gigabytes = (bytes: number) => (bytes >= 1024 ** 3 ? `${(bytes / 1024 ** 3).toFixed(2)} GiB` : `${(bytes / 1024 ** 2).toFixed(1)} MiB`);
const baseName = (path: string) => path.slice(path.lastIndexOf('/') + 1);

function readConfig(byName: Map<string, ModelFile>): Gpt2Config {
  const file = byName.get(CONFIG);
  if (!file) throw new ModelUseError(`No ${CONFIG}: a GPT-2 checkpoint is ${CONFIG} with ${SINGLE} (or ${INDEX} and its shards).`);
  let config: Gpt2Config;
  try {
    config = parseGpt2Config(new TextDecoder().decode(file.bytes));
  } catch (e) {
    throw namingFile(CONFIG, e);
  }
  if (!vocabularyMatches(config)) {
    throw new ModelUseError(`${CONFIG}: the model's vocabulary (${config.vocabSize}) does not match the GPT-2 tokenizer (${GPT2_VOCAB_SIZE}).`);
  }
  return config;
}

function findWeights(byName: Map<string, ModelFile>): Weights {
  const single = byName.get(SINGLE);
  if (single) return { kind: 'single', file: single };
  const index = byName.get(INDEX);
  if (index) return { kind: 'sharded', index, shards: new Map([...byName].map(([n, f]) => [n, f.bytes])) };
  throw new ModelUseError(`No weights: ${CONFIG} needs ${SINGLE}, or ${INDEX} with the shards it names.`);
}

/** Whether the checkpoint stores its own lm_head (read from the header or the index, nothing decoded). */
function hasOwnLmHead(weights: Weights): boolean {
  try {
    if (weights.kind === 'single') return readSafetensorsHeader(weights.file.bytes, SINGLE).entries.some((e) => e.name === 'lm_head.weight');
    const index = JSON.parse(new TextDecoder().decode(weights.index.bytes)) as { weight_map?: Record<string, string> };
    return Object.hasOwn(index.weight_map ?? {}, 'lm_head.weight');
  } catch (e) {
    if (e instanceof SyntaxError) return false; // a bad index is reported, with its reason, when the weights are read
    throw namingFile(weights.kind === 'single' ? SINGLE : INDEX, e);
  }
}

function readWeights(weights: Weights): Map<string, HostTensor> {
  try {
    if (weights.kind === 'single') return readSafetensors(weights.file.bytes, { skip: isGpt2MaskBuffer, fileName: SINGLE });
    return readShardedSafetensors(new TextDecoder().decode(weights.index.bytes), weights.shards, { skip: isGpt2MaskBuffer });
  } catch (e) {
    throw namingFile(weights.kind === 'single' ? SINGLE : INDEX, e);
  }
}

/** The error as a ModelUseError whose message names the file (unless it already does). */
function namingFile(file: string, e: unknown): ModelUseError {
  const message = e instanceof Error ? e.message : String(e);
  return new ModelUseError(message.includes(file) ? message : `${file}: ${message}`, { cause: e });
}
