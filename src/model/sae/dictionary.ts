/**
 * An SAE over one atlas's recorded rows, as the page explores it: trained here or opened from SAELens's files,
 * measured on every row, with each latent's top rows kept (bounded: TOP_ROWS a latent) for the latent list and
 * every row's active latents (k a row: smaller than the rows themselves) for scoring latents beside neurons.
 * Plain data in, plain data out, so the model worker serves it and a Node test calls it directly.
 */
import type { Modality } from '../../compute/atlas';
import { equalWidthHistogram, type Histogram } from '../../compute/grid';
import type { LatentActivations } from '../../compute/directions/versusRandom';
import { encodeAndMeasureSae, type SaeMeasures } from './encode';
import { readSaeLens, writeSaeLens, type SaeLensFiles } from './saelens';
import { SAE_TENSORS, type Sae, type SaeConfig, type SparseLatents } from './sae';
import { DEFAULT_MAX_EXAMPLES, EXAMPLE_FRACTION, type PolysemanticityOptions } from '../directions/polysemanticity';
import { measureLatentPolysemanticity, type SaePolysemanticity } from './latentPolysemanticity';
import { latentTopRows, strongestLatents, type LatentTopRows, type RowsLatent } from './topRows';
import { trainSae, type SaeTrainMetrics, type SaeTrainProgress, type SaeTrainSettings } from './train';
import type { SaeLossRecovered } from './lossRecovered';

/** An SAE's latents by polysemanticity as the page shows them: the histogram and each latent's count of clusters. */
export type LatentPolysemanticityView = Omit<SaePolysemanticity, 'latents'> & {
  threshold: number;
  minMembers: number;
  /** Each latent's clusters of at least minMembers examples, by latent id. */
  polysemanticity: Int32Array;
};

/** Top rows kept per latent. */
export const TOP_ROWS = 16;

/** What the page sets for a run; the rest take train.ts's defaults for the layer and row count. */
export type SaeTrainRequest = Pick<SaeTrainSettings, 'architecture' | 'latents' | 'k' | 'epochs' | 'seed'>;

/** The layer an SAE is for: its name, width, the atlas's modality (how hook names map) and model. */
export interface DictionaryTarget {
  layer: string;
  width: number;
  modality: Modality;
  modelName: string | null;
}

/**
 * Progress of a dictionary task: training spans (and, for a GPT-2 layer, the loss recovered by the SAE as it stands
 * at each epoch's end), then the pass that measures every row.
 */
export type SaeTaskProgress =
  | ({ stage: 'train' } & SaeTrainProgress)
  | { stage: 'epoch-loss'; epoch: number; loss: SaeLossRecovered }
  | { stage: 'measure'; done: number; total: number };

/** What the page shows of the SAE held: its config, how it was made, and its figures over every row. */
export interface SaeSummary {
  origin: 'trained' | 'opened';
  config: SaeConfig;
  /** The run's settings (null for an SAE opened from files). */
  settings: SaeTrainSettings | null;
  /** Metrics per training epoch (empty when opened). */
  epochs: SaeTrainMetrics[];
  /** Seconds the training took (null when opened). */
  seconds: number | null;
  /** Reconstruction, L0, and each latent's frequency and maximum, by the final weights over every row. */
  measures: SaeMeasures;
  /** A hash of W_enc, W_dec, b_enc, b_dec in that order: equal weights, bit for bit, give equal digests. */
  digest: string;
}

/** Every latent's top rows, flattened, and the decoder: what the page makes the latent atlas of. */
export interface LatentAtlasSource {
  topStart: Int32Array;
  topRows: Int32Array;
  decoder: Float32Array;
}

/** One latent's strongest rows (indices into the rows trained on: the atlas's points), and its encoder column. */
export interface LatentTop {
  latent: number;
  rows: Int32Array;
  values: Float32Array;
  /** W_enc[:, latent]: the direction that detects it, for shading contexts. */
  encoder: Float32Array;
  /** W_dec[latent]: the unit direction it writes. */
  decoder: Float32Array;
  /** Its activations over the rows where it fires, and the rows where it does not. */
  histogram: Histogram & { silent: number };
}

export interface DictionaryTaskOptions {
  signal?: AbortSignal;
  onProgress?: (progress: SaeTaskProgress) => void;
  /** Awaited between training steps (trainSae's `pause`). */
  pause?: () => Promise<void>;
  /** Awaited at each training epoch's end with the SAE as it stands (trainSae's `onEpoch`). */
  onEpoch?: (epoch: number, sae: Sae) => Promise<void>;
}

/** `hash` over an SAE's four tensors, concatenated in SAELens's order. */
export function saeDigest(sae: Sae, hash: (values: Float32Array) => string): string {
  const total = SAE_TENSORS.reduce((n, name) => n + sae.weights[name].length, 0);
  const all = new Float32Array(total);
  let at = 0;
  for (const name of SAE_TENSORS) {
    all.set(sae.weights[name], at);
    at += sae.weights[name].length;
  }
  return hash(all);
}

/** An SAE over one set of rows (N x width); a new one replaces it whole, or not at all. */
export class LayerDictionary {
  private sae: Sae | null = null;
  private top: LatentTopRows | null = null;
  private latents: SparseLatents | null = null;

  /** `hash` fingerprints the weights for SaeSummary.digest (the page's hashFloats). */
  constructor(
    readonly rows: Float32Array,
    readonly target: DictionaryTarget,
    private readonly hash: (values: Float32Array) => string,
  ) {
    if (!(Number.isInteger(target.width) && target.width > 0) || rows.length % target.width !== 0) {
      throw new Error(`${rows.length} activation values are not whole rows of ${target.layer}'s width ${target.width}.`);
    }
  }

  get count(): number {
    return this.rows.length / this.target.width;
  }

  /** Trains an SAE on the rows; on success it replaces the one held, on a cancel or failure that one stays. */
  async train(request: SaeTrainRequest, options: DictionaryTaskOptions = {}): Promise<SaeSummary> {
    const started = performance.now();
    const result = await trainSae(this.rows, this.target.width, {
      ...request,
      layer: this.target.layer,
      modelName: this.target.modelName,
      signal: options.signal,
      onProgress: (p) => options.onProgress?.({ stage: 'train', ...p }),
      pause: options.pause,
      onEpoch: options.onEpoch,
    });
    const seconds = (performance.now() - started) / 1000;
    return this.adopt(result.sae, 'trained', result.settings, result.epochs, seconds, options);
  }

  /** Opens SAELens's files for the rows' layer; a wrong layer, width or weights throws a SaeFileError and the SAE held stays. */
  async open(files: SaeLensFiles, options: DictionaryTaskOptions = {}): Promise<SaeSummary> {
    const { layer, width, modality } = this.target;
    // A copy: readSaeLens's F32 tensors are views of the bytes, which the page may reuse.
    const sae = readSaeLens({ cfg: files.cfg, weights: files.weights.slice() }, { modality, target: { layer, width } });
    return this.adopt(sae, 'opened', null, [], null, options);
  }

  /** SAELens's files for the SAE held. */
  save(): SaeLensFiles {
    return writeSaeLens(this.held(), { modality: this.target.modality });
  }

  /** A latent's top rows and its two directions. */
  latentTop(latent: number): LatentTop {
    const sae = this.held();
    const { dIn, dSae } = sae.config;
    if (!(Number.isInteger(latent) && latent >= 0 && latent < dSae)) throw new RangeError(`Latent ${latent} is not one of the SAE's ${dSae} (0 to ${dSae - 1}).`);
    const encoder = new Float32Array(dIn);
    for (let j = 0; j < dIn; j++) encoder[j] = sae.weights.W_enc[j * dSae + latent];
    const fired: number[] = [];
    const { latent: which, value } = this.latents!;
    for (let e = 0; e < which.length; e++) if (which[e] === latent) fired.push(value[e]);
    const histogram = { ...equalWidthHistogram(fired.length, (k) => fired[k]), silent: this.count - fired.length };
    return { latent, rows: this.top!.rows[latent].slice(), values: this.top!.values[latent].slice(), encoder, decoder: sae.weights.W_dec.slice(latent * dIn, (latent + 1) * dIn), histogram };
  }

  /**
   * What the latent atlas is made of: every latent's top rows (at most TOP_ROWS, strongest first; latent i's are
   * topRows[topStart[i]] up to topRows[topStart[i + 1]]) and the decoder rows (dSae x dIn), copies.
   */
  latentAtlasSource(): LatentAtlasSource {
    const sae = this.held();
    const rows = this.top!.rows;
    const topStart = new Int32Array(rows.length + 1);
    rows.forEach((r, i) => (topStart[i + 1] = topStart[i] + r.length));
    const topRows = new Int32Array(topStart[rows.length]);
    rows.forEach((r, i) => topRows.set(r, topStart[i]));
    return { topStart, topRows, decoder: sae.weights.W_dec.slice() };
  }

  /** The `k` latents strongest over some of the rows (a cell's points): their mean activation there and the share they fire on. */
  strongestLatents(rows: Int32Array, k: number): RowsLatent[] {
    this.held();
    return strongestLatents(this.latents!, rows, k);
  }

  /** Every row's active latents and the decoder rows, copies: the page scores latents beside neurons with them. */
  latentActivations(): LatentActivations {
    const sae = this.held();
    const { count, dSae, rowStart, latent, value } = this.latents!;
    return { count, dSae, rowStart: rowStart.slice(), latent: latent.slice(), value: value.slice(), decoder: sae.weights.W_dec.slice() };
  }

  /**
   * Each latent's polysemanticity by neuron embeddings over the rows (Foote's measure with the encoder column as the
   * input weights: measureLatentPolysemanticity), clustered as the neurons' are; per-latent cluster sizes are dropped.
   */
  async polysemanticity(options: PolysemanticityOptions & DictionaryTaskOptions): Promise<LatentPolysemanticityView> {
    const measured = await measureLatentPolysemanticity(this.held(), this.rows, this.latents!, {
      fraction: EXAMPLE_FRACTION,
      maxExamples: DEFAULT_MAX_EXAMPLES,
      ...options,
      onProgress: (done, total) => options.onProgress?.({ stage: 'measure', done, total }),
    });
    const { latents, ...summary } = measured;
    return { ...summary, threshold: options.threshold, minMembers: options.minMembers, polysemanticity: Int32Array.from(latents, (l) => l.polysemanticity) };
  }

  /** The SAE held; throws when there is none. */
  held(): Sae {
    if (!this.sae) throw new Error('No SAE is trained or open for this atlas.');
    return this.sae;
  }

  /** Measures `sae` over every row and keeps each latent's top rows; only then does it replace the one held. */
  private async adopt(
    sae: Sae,
    origin: SaeSummary['origin'],
    settings: SaeTrainSettings | null,
    epochs: SaeTrainMetrics[],
    seconds: number | null,
    options: DictionaryTaskOptions,
  ): Promise<SaeSummary> {
    const { latents, measures } = await encodeAndMeasureSae(sae, this.rows, {
      signal: options.signal,
      onProgress: (done, total) => options.onProgress?.({ stage: 'measure', done, total }),
    });
    this.top = latentTopRows(latents, TOP_ROWS);
    this.latents = latents;
    this.sae = sae;
    return { origin, config: sae.config, settings, epochs, seconds, measures, digest: saeDigest(sae, this.hash) };
  }
}
