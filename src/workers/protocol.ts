/** What the page and its workers say to each other, besides the services' own method signatures. */
import type { Atlas, AtlasRequest, InputError, ModalityModels, Modality } from '../compute/atlas';
import type { ProgressEvent } from '../compute/types';
import type { LayerInfo } from '../model/recordTable';

/** Where a model comes from: the built-in default, user-picked files (model.json + shards), or a URL. */
export type ModelSource = { kind: 'default' } | { kind: 'files'; files: File[] } | { kind: 'url'; url: string };

/** A loaded model as the page sees it: the atlas's model description plus what the pickers need. */
export type ModelSummary = { [M in Modality]: ModalityModels[M] & ModelExtras<M> }[Modality];

interface ModelExtras<M extends Modality> {
  modality: M;
  layers: LayerInfo[];
  /** The layer the app records unless the user picks another. */
  defaultLayer: string;
  /** A hash of the model's name, input and weights: the model part of icon cache keys. */
  fingerprint: string;
}

export interface BackendInfo {
  name: string;
  /** Why this backend was chosen (or why faster ones were skipped). */
  reason: string;
}

/** An image the user dropped or picked; `label` is its sub-folder name, if any. */
export interface ImageSource {
  name: string;
  label: string | null;
  blob: Blob;
}

/** An atlas request with its inputs: the user's images, or the bundled sample of the default model. */
export interface BuildRequest extends AtlasRequest {
  inputs: ImageSource[] | 'sample';
}

export type Stage = 'decode' | 'record' | 'project' | 'grid' | 'icons';

export type StageProgress = ProgressEvent & { stage: Stage };

/** A layout still settling (N x 2, raw projection coordinates) and a colour group per point. */
export interface LayoutPreview {
  layout: Float32Array;
  groups: Int32Array;
}

export type { InputError };

export interface BuildResult {
  atlas: Atlas;
  errors: InputError[];
  /** What besides model, layer and direction shapes a feature-visualisation icon (whitening, colour basis, site): the settings part of icon cache keys. */
  iconSettings: string;
  /** Set when activations were sampled down to the memory budget. */
  sampling: { kept: number; total: number } | null;
}
