import type { Metric, ProjectionMethod } from '../compute/types';
import type { Atlas } from '../export/atlasFile';

/** Where a model comes from: the built-in default, user-picked files (model.json + shards), or a URL. */
export type ModelSource = { kind: 'default' } | { kind: 'files'; files: File[] } | { kind: 'url'; url: string };

export interface LayerSummary {
  name: string;
  /** Output shape without the batch dimension. */
  shape: number[];
  /** True for [H, W, C] outputs, which can be sampled at spatial positions. */
  spatial: boolean;
}

export interface ModelSummary {
  name: string;
  kind: 'layers' | 'graph';
  inputHeight: number;
  inputWidth: number;
  inputChannels: number;
  layers: LayerSummary[];
  /** The layer the app records unless the user picks another. */
  defaultLayer: string;
  classNames: string[] | null;
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

export type SamplesPerImage = 'pooled' | 'all' | number;

export interface BuildRequest {
  /** The user's images, or the bundled sample of the default model. */
  images: ImageSource[] | 'sample';
  layer: string;
  samplesPerImage: SamplesPerImage;
  method: ProjectionMethod;
  metric: Metric;
  pcaDims: number;
  seed: number;
  nNeighbors?: number;
  perplexity?: number;
}

export type Stage = 'decode' | 'record' | 'project' | 'grid' | 'icons';

export interface StageProgress {
  stage: Stage;
  done: number;
  total: number;
  message?: string;
}

/** A layout still settling (N x 2, raw projection coordinates) and a colour group per point. */
export interface LayoutPreview {
  layout: Float32Array;
  groups: Int32Array;
}

/** An input that could not be used, and why; the rest of the batch still goes through. */
export interface InputError {
  name: string;
  reason: string;
}

export interface BuildResult {
  atlas: Atlas;
  errors: InputError[];
  /** Things the user should know that are not errors (sampling, a non-spatial layer recorded pooled). */
  notices: string[];
  /** What besides model, layer and direction shapes a feature-visualisation icon (whitening, colour basis, site): the settings part of icon cache keys. */
  iconSettings: string;
  /** Set when activations were sampled down to the memory budget. */
  sampling: { kept: number; total: number } | null;
}
