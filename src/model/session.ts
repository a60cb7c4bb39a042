/**
 * The model side of the modality seam: a loaded model with its last recording, as one interface that
 * `model/image/imageSession.ts` and `model/text/textSession.ts` implement. The model worker holds one session
 * and never asks which modality it is.
 */
import type { AtlasParams, AtlasRequest, InputError, Modality, ModalityModels, RecordedColumns } from '../compute/atlas';
import type { ProgressEvent } from '../compute/types';
import type { NeuronInputs } from './directions/neuronInputs';
import type { RawImage } from './image/preprocess';
import type { ImageModel } from './image/imageModel';
import type { ImageProvider } from './image/recordImages';
import type { TextFile } from './text/documents';
import type { ImageAblationTest, ImageSteeringTest } from './image/intervention';
import type { AblationMode, AblationTarget, AblationTest } from './text/ablation';
import type { Continuation, ProbabilityShift, SteeringTest, SteerSide } from './text/steering';
import type { LayerInfo } from './recordTable';
import type { BuiltInTextModel } from './text/textModel';
import type { SaeLossRecovered, SaeLossRecoveredOptions } from './sae/lossRecovered';
import type { Sae } from './sae/sae';
import type { PacedOptions } from '../lib/yieldToPage';

/**
 * Where a model comes from: a built-in one (the image CNN, or the text GPT-2), user-picked files (a TF.js
 * model.json + shards, or a GPT-2's config.json + safetensors), a URL, or a Hugging Face model id.
 */
export type ModelSource =
  | { kind: 'default' }
  | { kind: 'default-text'; size?: BuiltInTextModel }
  | { kind: 'files'; files: File[] }
  | { kind: 'url'; url: string }
  | { kind: 'hub'; id: string; baseUrl: string };

/** Progress of a model load: bytes fetched of the total (where known), and what is happening. */
export interface LoadProgress {
  done: number;
  total: number;
  message: string;
}

/** An image the user dropped or picked; `label` is its sub-folder name, if any. */
export interface ImageSource {
  name: string;
  label: string | null;
  blob: Blob;
}

/** A text file or pasted text the user gave; `label` is its sub-folder name, if any. */
export interface TextSource {
  name: string;
  label: string | null;
  text: string;
}

/** What an atlas is built over: the user's images or texts, or the bundled sample of a built-in model. */
export type InputSet = { kind: 'sample' } | { kind: 'images'; images: ImageSource[] } | { kind: 'text'; texts: TextSource[] };

/** What a gradient is of: a class's logit (image models) or a next token's (GPT-2). */
export type GradientTarget = { kind: 'class'; classIndex: number } | { kind: 'token'; text: string };

/** A loaded model as the page sees it: the atlas's model description plus what the pickers need. */
export type ModelSummary = { [M in Modality]: ModalityModels[M] & ModelExtras<M> }[Modality];

interface ModelExtras<M extends Modality> {
  modality: M;
  layers: LayerInfo[];
  /** The layer the app records unless the user picks another. */
  defaultLayer: string;
  /** A hash of the model's name, input and weights: the model part of icon cache keys. */
  fingerprint: string;
  /** What the user should know about the load that did not stop it (e.g. the model cache could not be used). */
  notices?: string[];
}

/** How a session reaches what differs between the page and Node: the bundled samples, decoding, PNG encoding. */
export interface SessionDeps {
  /** The bundled sample of the built-in image model. */
  loadSample(): Promise<ImageProvider>;
  /** The bundled sample of the built-in text model, as text files. */
  loadTextSample(): Promise<TextFile[]>;
  /** Decodes an image file straight to the size the model takes (never at full resolution first). */
  decodeImage(blob: Blob, size: { width: number; height: number }): Promise<RawImage>;
  encodePng(image: RawImage): Promise<string>;
}

/** A long step's cancel and progress. */
export interface StepOptions {
  signal: AbortSignal;
  onProgress: (event: ProgressEvent) => void;
}

/** What feature visualisation of a recorded layer starts from: image models have it (see featureVis/). */
export interface VisualisableRecording {
  model: ImageModel;
  layer: string;
  /** The inputs at thumbnail size, for the colour basis. */
  thumbnails: RawImage[];
}

/** What a recording ran the model over: tokens (text, `<|endoftext|>` included) or images. */
export interface RecordedAmount {
  count: number;
  unit: 'tokens' | 'images';
}

/** A recording as a session returns it: its columns and previews, the inputs that failed, and what icons start from. */
export type SessionRecording = RecordedColumns & {
  errors: InputError[];
  amount: RecordedAmount;
  /** null where the modality has no feature visualisation. */
  visualisable: VisualisableRecording | null;
};

/** Gradients at points of the last recording, one row per point. */
export interface SessionGradients {
  gradients: Float32Array;
  dim: number;
  /** The target token's id (GPT-2), or null for a class. */
  tokenId: number | null;
  /** The target's name: the class or the token's text. */
  target: string;
}

/** A layer's neurons recorded over the last recording's inputs, for polysemanticity. */
export interface SessionNeuronInputs {
  recorded: NeuronInputs;
  /** The atlas input of each recorded window. */
  inputOf: (window: number) => number;
  notices: string[];
}

/** A token a direction writes to the output, and its logit. */
export interface OutputToken {
  id: number;
  text: string;
  logit: number;
}

/** What a direction at the recorded layer writes to the next-token logits: the most promoted and suppressed tokens. */
export interface DirectionOutputs {
  promoted: OutputToken[];
  suppressed: OutputToken[];
}

/** What the page asks a language model to steer: a unit direction at a layer, α (in the layer's scale along it), a prompt and its decoding. */
export interface SteerPromptRequest {
  layer: string;
  direction: Float32Array;
  alpha: number;
  prompt: string;
  maxTokens: number;
  /** 0: greedy. */
  temperature: number;
  topK: number;
  seed: number;
  /** Words whose probability over the held-out contexts is tested against `random` random directions of the same α. */
  watch?: string[];
  random?: number;
}

/** The prompt continued without and with steering, and the steering's effect on held-out contexts of the recording. */
export interface SteerPromptResult {
  promptIds: number[];
  /** The unit α was counted in: the root mean square of x·v over the scale's contexts. */
  scale: number;
  unsteered: Continuation;
  steered: Continuation;
  heldOut: ProbabilityShift;
  /** Contexts the scale was measured on (the held-out ones are in heldOut). */
  scaleContexts: number;
  /** With `watch`: the watched words' rise in probability over the held-out contexts against random directions. */
  significance?: SteeringTest;
}

/** A token of a continuation as it comes. */
export interface SteerToken {
  side: SteerSide;
  text: string;
}

/** What the page asks an image model to steer along: α·v at a layer, measured on one class over held-out images of the recording. */
export interface ClassSteerRequest {
  layer: string;
  direction: Float32Array;
  alpha: number;
  classIndex: number;
  /** Random directions of the same α (at least 2). */
  random: number;
  seed: number;
}

/** What the page asks an image model to ablate at a layer, measured on one class's held-out images of the recording. */
export interface ClassAblateRequest {
  layer: string;
  target: AblationTarget;
  mode: AblationMode;
  classIndex: number;
  random: number;
  seed: number;
}

/** What only image classifiers do here: move their classes' probabilities by steering or ablating a layer. */
export interface ClassCapability {
  steer(request: ClassSteerRequest, options: PacedOptions): Promise<ImageSteeringTest>;
  ablate(request: ClassAblateRequest, options: PacedOptions): Promise<ImageAblationTest>;
}

/** What the page asks a language model to ablate at a layer, and how many of the recording's contexts to measure the loss on. */
export interface AblatePromptRequest {
  layer: string;
  target: AblationTarget;
  mode: AblationMode;
  contexts: number;
  /** Words (one token each) whose predictions alone are scored; absent: every prediction. */
  watch?: string[];
  /**
   * Text the loss is measured on instead of the recording's own: one document per blank-line-separated paragraph,
   * read in windows as a recording reads them.
   */
  texts?: string;
  /** Random controls ablated the same way (at least 2). */
  random: number;
  seed: number;
}

/** What only language models do: read a direction token by token and in the next-token logits, steer generation along it, ablate it. */
export interface TokenCapability {
  /** Each token's activation along `direction` at `layer`, for whole documents (token ids). */
  tokenActivations(layer: string, direction: Float32Array, documents: number[][]): Promise<Float32Array[]>;
  /** The k tokens a direction written at `layer` promotes most, and the k it suppresses most, in the next-token logits. */
  directionOutputs(layer: string, direction: Float32Array, k: number): DirectionOutputs;
  /** What the logits read as `words` (one token each) at a residual-width `layer`, centred on the recording's scale contexts (Gpt2Model.wordsDirection). */
  wordsDirection(layer: string, words: string[]): Float32Array;
  /** Continues the prompt without and with α·v added at the layer, streaming both; held-out contexts come from the last recording. */
  steer(request: SteerPromptRequest, options: PacedOptions & { onToken?: (token: SteerToken) => void }): Promise<SteerPromptResult>;
  /** The ablation's rise in next-token loss over the recording's contexts, against random ablations of the same kind. */
  ablate(request: AblatePromptRequest, options: PacedOptions): Promise<AblationTest>;
  /** An SAE of `layer` spliced in for the layer over the first `contexts` contexts of the recording: its loss recovered. */
  saeLossRecovered(sae: Sae, layer: string, contexts: number, options: SaeLossRecoveredOptions): Promise<SaeLossRecovered>;
}

/** What asking about a recording says when the session holds none. */
export const NO_RECORDING = 'Build an atlas first: this is computed on its inputs.';

/** A loaded model and its last recording, of either modality. */
export interface ModelSession {
  readonly modality: Modality;
  /** The summary the page shows, less the fingerprint. */
  describe(fingerprint: string): ModelSummary;
  /** A stable name of the model's weights, for icon cache keys. */
  fingerprint(): Promise<string>;
  /** Records an atlas's inputs; the session keeps them for gradients and neuron measures about this recording. */
  record(inputs: InputSet, request: AtlasRequest, options: StepOptions): Promise<SessionRecording>;
  /** A concept's examples at `layer`, sampled as the atlas's points were. */
  conceptActivations(
    inputs: InputSet,
    layer: string,
    params: Pick<AtlasParams, 'samplesPerInput' | 'seed'>,
    options: StepOptions,
  ): Promise<{ table: { values: Float32Array; count: number; dim: number }; names: string[]; errors: InputError[] }>;
  /** Gradients of `target` with respect to `layer` at points (input, position; -1: pooled) of the last recording. */
  gradients(
    request: { layer: string; target: GradientTarget; input: number[]; position: number[] },
    options: StepOptions & { pause(): Promise<void> },
  ): Promise<SessionGradients>;
  /** The polysemanticity threshold that suits this modality's neuron embeddings. */
  readonly defaultThreshold: number;
  /** Records `layer`'s neurons over the last recording's inputs. */
  neuronInputs(layer: string, options: StepOptions): Promise<SessionNeuronInputs>;
  /** Whether a recording is held (gradients and neuron measures need one). */
  readonly hasRecording: boolean;
  /** Token-level reading of directions; null for image models. */
  readonly tokens: TokenCapability | null;
  /** Steering and ablation measured on classes; null for language models. */
  readonly classes: ClassCapability | null;
  /** The model's recordable layer of that name, with its shape (throws a ModelUseError for another name). */
  layerShape(layer: string): number[];
  dispose(): void;
}
