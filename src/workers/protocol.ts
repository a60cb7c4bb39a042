/** What the page and its workers say to each other, besides the services' own method signatures. */
import type { Atlas, AtlasRequest, InputError, ModalityModels, Modality } from '../compute/atlas';
import type { ProgressEvent } from '../compute/types';
import type { GradientTarget, InputSet, RecordedAmount } from '../model/session';

export type { DictionaryTarget, LatentAtlasSource, LatentPolysemanticityView, LatentTop, SaeSummary, SaeTaskProgress, SaeTrainRequest } from '../model/sae/dictionary';
export type { RowsLatent } from '../model/sae/topRows';
export type { SaeLensFiles } from '../model/sae/saelens';
export type { AblationMode, AblationTarget, AblationTest } from '../model/text/ablation';
export type { SteeringTest } from '../model/text/steering';
export type { SaeLossRecovered } from '../model/sae/lossRecovered';
export type { ImageAblationTest, ImageSteeringTest } from '../model/image/intervention';
export type { SaeTrainMetrics, SaeTrainProgress } from '../model/sae/train';
export type { AblatePromptRequest, ClassAblateRequest, ClassSteerRequest, DirectionOutputs, GradientTarget, ImageSource, InputSet, LoadProgress, ModelSource, ModelSummary, OutputToken, SteerPromptRequest, SteerPromptResult, SteerToken, TextSource } from '../model/session';

/** A GPT-2 SAE's loss recovered at each training epoch's end: over the first `contexts` contexts of recording `of`. */
export interface EpochLossRequest {
  of: number;
  contexts: number;
}

/** The progress of a measurement on the model (an ablation, a class steering): passes done, or the wait for its turn. */
export type MeasureProgress = { stage: 'measure'; done: number; total: number } | WaitProgress;

/** The progress a call reports while it waits for its turn on the model: what it waits for. */
export interface WaitProgress {
  stage: 'waiting';
  done: 0;
  total: 0;
  message: string;
}

/** What the page asks of the backend: a backend to force (`?backend=`), and threads for wasm (`?threads=`, 0: off); null: choose. */
export interface BackendRequest {
  backend: string | null;
  threads: number | null;
}

export interface BackendInfo {
  name: string;
  /** Why this backend was chosen (or why faster ones were skipped). */
  reason: string;
  /** Threads the backend computes on (wasm: its thread pool where the page is cross-origin isolated). */
  threads: number;
}

/** An atlas request with its inputs. */
export interface BuildRequest extends AtlasRequest {
  inputs: InputSet;
  /** Concepts learnt at this layer of this model: the compute worker keeps their examples, so TCAV still runs. */
  keepConcepts?: string[];
}

/** A concept's examples recorded at the atlas's layer from inputs the user gave, and the inputs that failed. */
export interface ConceptActivations {
  values: Float32Array;
  count: number;
  dim: number;
  names: string[];
  errors: InputError[];
}

/** Gradients at points of the last recording: each point's input index and position (-1: pooled). */
export interface GradientRequest {
  /** The model worker's recording the points belong to (BuildResult.recording). */
  recording: number;
  layer: string;
  target: GradientTarget;
  input: number[];
  position: number[];
}

export interface GradientResult {
  /** One row of `dim` per asked point. */
  gradients: Float32Array;
  dim: number;
  /** The token's id for a next-token target; null for a class. */
  tokenId: number | null;
  /** The class name or the token's text. */
  target: string;
}

/** A recorded example of a neuron's cluster: where it is (input and position, as an atlas point's) and how strongly it fires. */
export interface NeuronExample {
  input: number;
  position: number;
  activation: number;
}

/** One neuron's feature clusters (Foote 2024), largest first, each with its strongest examples and (up to a cap) all its members. */
export interface NeuronClustersView {
  index: number;
  maxActivation: number;
  examples: number;
  polysemanticity: number;
  clusters: { size: number; top: NeuronExample[]; members: { input: number[]; position: number[] } }[];
}

/** Polysemanticity of the atlas's layer: every neuron, sorted by score (highest first), and the distribution. */
export interface LayerPolysemanticityView {
  layer: string;
  threshold: number;
  minMembers: number;
  neurons: NeuronClustersView[];
  histogram: number[];
  meanPolysemanticity: number;
  deadNeurons: number;
  notices: string[];
}

export type Stage = 'decode' | 'record' | 'project' | 'grid' | 'icons';

export type StageProgress = ProgressEvent & { stage: Stage };

/** A layout still settling (N x 2, raw projection coordinates) and a colour group per point. */
export interface LayoutPreview {
  layout: Float32Array;
  groups: Int32Array;
}

export type { InputError };

/** How the model worker's recording of a build went: what it ran the model over, how long it took, and a digest of its rows. */
export type RecordingStats = RecordedAmount & {
  /** Seconds the model worker spent recording (reading and tokenizing or decoding inputs, forward passes, the table), not waiting its turn. */
  seconds: number;
  /** hashFloats of the table's values (rows x dim, row-major): equal activations, bit for bit, give equal digests. */
  digest: string;
  /** The table's first values, as recorded, for a message when two digests differ. */
  head: number[];
};

export interface BuildResult {
  atlas: Atlas;
  errors: InputError[];
  /** What besides model, layer and direction shapes a feature-visualisation icon (whitening, colour basis, site): the settings part of icon cache keys. */
  iconSettings: string;
  /** Set when activations were sampled down to the memory budget. */
  sampling: { kept: number; total: number } | null;
  /** null where no model recorded (precomputed activations). */
  recordingStats: RecordingStats | null;
  /** Which recording and layout of the workers this atlas is: later requests about it name them. */
  ref: BuildRef;
}

/**
 * The workers' numbers for one built atlas: the model worker's recording (its inputs) and the compute worker's
 * layout (its activation table). A request names them, and a worker that has since recorded or laid out another
 * atlas (a rebuild that was cancelled after that stage) refuses it instead of answering about the wrong rows.
 */
export interface BuildRef {
  recording: number;
  layout: number;
}
