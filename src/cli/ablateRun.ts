import type { ImageModel } from '../model/image/imageModel';
import { imageAblationTest, type ImageAblationTest } from '../model/image/intervention';
import { ablationTest, unitMeans, type AblationMode, type AblationTarget, type AblationTest } from '../model/text/ablation';
import type { TextModel } from '../model/text/textModel';
import { wholeNumber } from '../lib/validate';
import { contextsFrom, directionOf, type DirectionSources } from './directions';
import { watchedWords } from './steerRun';
import { imageSetup, type ClassConcept, type ImageInterventionOptions, type ImagesUsed } from './imageInterventions';

export const ABLATE_FILE_VERSION = 1;
export const ABLATION_MODES: readonly AblationMode[] = ['project', 'zero', 'mean'];

export interface AblateOptions {
  model: string;
  layer: string;
  direction: string;
  mode: AblationMode;
  /** Random directions (project) or random other units (zero, mean) ablated the same way; at least 2. */
  random: number;
  seed: number;
  /** The texts whose loss is measured (a file or folder). */
  texts: string;
  /** Mean mode: the texts whose positions give the means (a file or folder, every window read); default: `texts`. */
  means?: string;
  contexts: number;
  contextTokens: number;
  sources: DirectionSources;
  /** Score only the predictions of these words (each one token with a leading space), as steer's --watch; default: every prediction. */
  watch?: string[];
  onProgress?: (done: number, total: number) => void;
}

/**
 * What npm run ablate writes: the ablation test (losses in nats per token over the texts, clean and with the ablation at
 * every position; the increase against the controls' by a one-sided prediction t-test and the empirical rank), and
 * what it was run on.
 */
export interface AblateReport extends AblationTest {
  version: typeof ABLATE_FILE_VERSION;
  model: string;
  direction: string;
  texts: string;
  /** Mean mode: the texts the means were taken over, where not `texts`. */
  means?: string;
  /** The words whose predictions alone were scored, where not every prediction. */
  watch?: string[];
  contextTokens: number;
  random: number;
}

/** What --direction names for the ablation: a unit for neuron:N in zero and mean modes, else a unit direction (zero mode takes units only). */
async function targetOf(options: AblateOptions, width: number, model: TextModel, windows: readonly Int32Array[]): Promise<AblationTarget> {
  if (options.mode === 'project' || (options.mode === 'mean' && !options.direction.startsWith('neuron:'))) {
    return { kind: 'direction', direction: await directionOf(options.direction, width, options.layer, { ...options.sources, centre: windows }, model.gpt2) };
  }
  if (!options.direction.startsWith('neuron:')) throw new Error(zeroNeedsANeuron(options.direction));
  const unit = wholeNumber(options.direction.slice('neuron:'.length), '--direction neuron:N', 0);
  if (unit >= width) throw new Error(`${options.layer} has units 0..${width - 1}; got neuron:${unit}.`);
  return { kind: 'unit', unit };
}

const zeroNeedsANeuron = (direction: string) => `--mode zero sets one unit: give --direction neuron:N, or --mode project or mean for "${direction}".`;

/** Ablates a direction or unit of a GPT-2 layer over texts, and the same for random controls, with a significance test. */
export async function ablate(options: AblateOptions, model: TextModel): Promise<AblateReport> {
  if (!ABLATION_MODES.includes(options.mode)) throw new Error(`--mode must be ${ABLATION_MODES.join(', ')}; got "${options.mode}".`);
  if (!(Number.isInteger(options.random) && options.random >= 2)) throw new Error(`--random must be a whole number of at least 2 (the controls need a spread); got ${options.random}.`);
  if (options.means !== undefined && options.mode !== 'mean') throw new Error(`--means sets what mean-ablation sets to; --mode is ${options.mode}.`);
  const layer = model.layer(options.layer);
  const width = layer.shape[1];
  const contextTokens = Math.min(options.contextTokens, model.contextLength);
  const windows = await contextsFrom(options.texts, options.contexts, contextTokens, `--contexts ${options.contexts}`);
  const target = await targetOf(options, width, model, windows);
  const means = options.means === undefined ? undefined : unitMeans(model.gpt2, layer.name, await contextsFrom(options.means, Infinity, contextTokens, '--means'));
  const only = options.watch && watchedWords(options.watch);
  const test = await ablationTest(model.gpt2, layer.name, windows, target, options.mode, { random: options.random, seed: options.seed, means, only, onProgress: options.onProgress });
  return {
    version: ABLATE_FILE_VERSION,
    model: model.info.name,
    direction: options.direction,
    texts: options.texts,
    ...(options.means === undefined ? {} : { means: options.means }),
    ...(options.watch === undefined ? {} : { watch: options.watch }),
    contextTokens,
    random: options.random,
    ...test,
  };
}

/** npm run ablate with --images: options beyond the shared image ones. */
export interface ImageAblateOptions extends ImageInterventionOptions {
  model: string;
  mode: AblationMode;
  /** Random directions (project) or random other units (zero, mean) ablated the same way; at least 2. */
  random: number;
  onProgress?: (done: number, total: number) => void;
}

/** What npm run ablate --images writes. */
export interface ImageAblateReport {
  version: typeof ABLATE_FILE_VERSION;
  modality: 'image';
  model: string;
  layer: string;
  direction: string;
  concept?: ClassConcept;
  mode: AblationMode;
  class: string;
  classIndex: number;
  classNames: string[] | null;
  images: ImagesUsed;
  /** The class's accuracy and probability over its held-out images, clean and ablated, against the controls' drops. */
  test: ImageAblationTest;
}

/** Ablates a direction or unit of an image model's layer and tests whether it lowers a class's accuracy over its held-out images more than random controls. */
export async function ablateImages(options: ImageAblateOptions, model: ImageModel): Promise<ImageAblateReport> {
  if (!ABLATION_MODES.includes(options.mode)) throw new Error(`--mode must be ${ABLATION_MODES.join(', ')}; got "${options.mode}".`);
  if (!(Number.isInteger(options.random) && options.random >= 2)) throw new Error(`--random must be a whole number of at least 2 (the controls need a spread); got ${options.random}.`);
  const neuron = options.direction?.startsWith('neuron:') ?? false;
  if (options.mode === 'zero' && !neuron) throw new Error(zeroNeedsANeuron(options.direction ?? `class:${options.className}`));
  const setup = await imageSetup(options, model);
  const target: AblationTarget =
    options.mode === 'project' || !neuron ? { kind: 'direction', direction: setup.direction } : { kind: 'unit', unit: wholeNumber(setup.directionSpec.slice('neuron:'.length), '--direction neuron:N', 0) };
  const test = await imageAblationTest(model, setup.layer, setup.heldOut, setup.heldOut.labels, target, options.mode, setup.classIndex, {
    random: options.random,
    seed: options.seed,
    means: setup.moments.means,
    onProgress: options.onProgress,
  });
  return {
    version: ABLATE_FILE_VERSION,
    modality: 'image',
    model: model.name,
    layer: setup.layer,
    direction: setup.directionSpec,
    ...(setup.concept ? { concept: setup.concept } : {}),
    mode: options.mode,
    class: setup.className,
    classIndex: setup.classIndex,
    classNames: model.classNames,
    images: setup.used,
    test,
  };
}
