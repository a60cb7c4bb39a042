import type { ImageModel } from '../model/image/imageModel';
import { imageSteeringTest, scaleAlong, type ImageSteeringTest } from '../model/image/intervention';
import { continuation, steerGeneration, steeringTest, watchedTokens, type Continuation, type ProbabilityShift, type SteeringControls, type SteeringTest } from '../model/text/steering';
import type { TextModel } from '../model/text/textModel';
import { encode } from '../model/text/tokenizer';
import { contextsFrom, directionOf, type DirectionSources } from './directions';
import { imageSetup, type ClassConcept, type ImageInterventionOptions, type ImagesUsed } from './imageInterventions';

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
  unsteered: Continuation;
  steered: Continuation;
  heldOut: ProbabilityShift;
  /** With --random N and --watch: the watched tokens' rise in probability over the held-out contexts against N random directions of the same α (or norm). */
  significance?: SteeringTest;
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
  /** Random directions to test the direction against (0: no test). */
  random?: number;
  /** The words whose tokens' probability the test watches (each one token with a leading space). */
  watch?: string[];
  /** How the random directions' vectors are sized: the same α (default) or the same norm as the direction's. */
  controls?: SteeringControls;
}

/** --watch's words as token ids; a word of several tokens is refused with the flag named. */
export function watchedWords(words: readonly string[]): number[] {
  try {
    return watchedTokens(words);
  } catch (e) {
    throw new Error(`--watch: ${(e as Error).message}`);
  }
}

/** Generates with and without the steering vector, and measures its effect on held-out contexts. */
export async function steer(options: SteerOptions, model: TextModel): Promise<SteerReport> {
  const layer = model.layer(options.layer);
  const width = layer.shape[1];
  const random = options.random ?? 0;
  if (!(Number.isInteger(random) && (random === 0 || random >= 2))) throw new Error(`--random must be 0 or a whole number of at least 2; got ${random}.`);
  if (random > 0 && !options.watch) throw new Error('--random needs --watch <words>: the tokens whose probability the test compares.');
  const watched = random > 0 ? watchedWords(options.watch!) : [];
  const contexts = await contextsFrom(options.text, 2 * options.contexts, Math.min(options.contextTokens, model.contextLength), `--contexts ${options.contexts}, twice over`);
  // A words: direction is centred on the scale's contexts, not on the held-out ones it is measured on.
  const direction = await directionOf(options.direction, width, layer.name, { ...options.sources, centre: contexts.slice(0, options.contexts) }, model.gpt2);
  const promptIds = encode(options.prompt);
  if (promptIds.length === 0) throw new Error('--prompt has no tokens.');
  const decoding = { maxTokens: options.tokens, temperature: options.temperature, topK: options.topK, seed: options.seed };
  const { scale, unsteered, steered, heldOut } = await steerGeneration(
    model.gpt2,
    { layer: layer.name, direction, alpha: options.alpha, promptIds, decoding },
    { scale: contexts.slice(0, options.contexts), heldOut: contexts.slice(options.contexts) },
  );
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
    heldOut,
    ...(random > 0
      ? {
          significance: await steeringTest(model.gpt2, layer.name, contexts.slice(options.contexts), direction, options.alpha, watched, {
            random,
            seed: options.seed,
            controls: options.controls ?? 'alpha',
            scaleWindows: contexts.slice(0, options.contexts),
          }),
        }
      : {}),
  };
}


/** npm run steer with --images: options beyond the shared image ones. */
export interface ImageSteerOptions extends ImageInterventionOptions {
  model: string;
  alpha: number;
  /** Random directions the direction is tested against; at least 2. */
  random: number;
  controls: SteeringControls;
  onProgress?: (done: number, total: number) => void;
}

/** What npm run steer --images writes. */
export interface ImageSteerReport {
  version: 1;
  modality: 'image';
  model: string;
  layer: string;
  direction: string;
  /** Where a class:NAME direction was learnt (the held-in images). */
  concept?: ClassConcept;
  class: string;
  classIndex: number;
  classNames: string[] | null;
  alpha: number;
  /** The unit α is counted in: the root mean square of x·v over every position of the held-in images. */
  scale: number;
  images: ImagesUsed;
  /** The class's mean probability over the held-out images, clean and steered, and its rise against random directions. */
  significance: ImageSteeringTest;
}

/** Adds α·v at every position of an image model's layer and tests whether it raises a class's probability over held-out images more than random directions. */
export async function steerImages(options: ImageSteerOptions, model: ImageModel): Promise<ImageSteerReport> {
  if (!Number.isFinite(options.alpha)) throw new Error(`--alpha must be a number; got ${options.alpha}.`);
  if (!(Number.isInteger(options.random) && options.random >= 2)) throw new Error(`--random must be a whole number of at least 2 with --images (the controls need a spread); got ${options.random}.`);
  const setup = await imageSetup(options, model);
  const significance = await imageSteeringTest(model, setup.layer, setup.heldOut, setup.direction, options.alpha, setup.classIndex, {
    random: options.random,
    seed: options.seed,
    controls: options.controls,
    scale: setup.moments,
    onProgress: options.onProgress,
  });
  return {
    version: 1,
    modality: 'image',
    model: model.name,
    layer: setup.layer,
    direction: setup.directionSpec,
    ...(setup.concept ? { concept: setup.concept } : {}),
    class: setup.className,
    classIndex: setup.classIndex,
    classNames: model.classNames,
    alpha: options.alpha,
    scale: scaleAlong(setup.moments, setup.direction),
    images: setup.used,
    significance,
  };
}
