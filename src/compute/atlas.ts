import type { Concept } from './directions/concept';
import type { UnitSummary } from './stream/recorder';
import { applyFrame, buildLevels, GRID_SIZES, layoutFrame, type LayoutFrame } from './grid';
import type { ProjectionProgress } from './projection';
import { projectAtScale, type LayoutFit, type ScaleOptions } from './scaleLayout';
import type { ActivationTable, GridLevel, Layout, Metric, ProgressEvent, ProjectionMethod, ProjectionOptions } from './types';

/** The domain of an atlas: what it holds, whatever file or screen it ends up in. */

/** How many points each input gives: one pooled over its positions, k seeded positions, or every position. */
export type PositionSampling = 'pooled' | 'all' | number;

/** Everything that shapes an atlas besides the model, the layer and the inputs; the page and the CLI send the same. */
export interface AtlasParams {
  method: ProjectionMethod;
  metric: Metric;
  /** PCA to this many dimensions before projecting; 0: off. */
  pcaDims: number;
  seed: number;
  nNeighbors: number;
  minDist: number;
  perplexity: number;
  /** UMAP epochs or t-SNE iterations; null: the engine's default for the number of points. */
  iterations: number | null;
  /** Asked for, and in an atlas what was recorded ('pooled' where the layer has no positions). */
  samplesPerInput: PositionSampling;
  gridSizes: number[];
  /** Cells with fewer points are dropped. */
  minCellCount: number;
  /** Top inputs kept per cell. */
  topK: number;
}

/** The sampling a model starts from, by its modality: every token of a text (a document gives few points), 4 positions of an image. */
export const DEFAULT_SAMPLES_PER_INPUT: { [M in Modality]: PositionSampling } = { image: 4, text: 'all', precomputed: 'pooled' };

export const DEFAULT_ATLAS_PARAMS: AtlasParams = {
  method: 'umap',
  metric: 'euclidean',
  pcaDims: 50,
  seed: 0,
  nNeighbors: 15,
  minDist: 0.1,
  perplexity: 30,
  iterations: null,
  samplesPerInput: DEFAULT_SAMPLES_PER_INPUT.image,
  gridSizes: [...GRID_SIZES],
  minCellCount: 1,
  topK: 16,
};

/** What the user asks for: a layer and the parameters. */
export interface AtlasRequest {
  layer: string;
  params: AtlasParams;
}

/** The projection engine's options from an atlas's parameters. */
export function projectionOptions(p: AtlasParams): ProjectionOptions {
  return {
    method: p.method,
    metric: p.metric,
    pcaDims: p.pcaDims,
    seed: p.seed,
    nNeighbors: p.nNeighbors,
    minDist: p.minDist,
    perplexity: p.perplexity,
    ...(p.iterations !== null ? { iterations: p.iterations } : {}),
  };
}

/** An image classifier as the atlas describes it (the modality's model description). */
export interface ImageModelInfo {
  name: string;
  kind: 'layers' | 'graph';
  inputHeight: number;
  inputWidth: number;
  inputChannels: number;
  classNames: string[] | null;
}

/** A GPT-2 language model as the atlas describes it (the text modality's model description). */
export interface TextModelInfo {
  name: string;
  kind: 'gpt2';
  nLayer: number;
  nEmbd: number;
  /** Tokens the model sees at once (n_positions). */
  contextLength: number;
  vocabSize: number;
  /** A language model has no classes. */
  classNames: null;
}

/** Activations computed elsewhere (a NumPy .npy of rows x dim), read without any model: one pooled point per row. */
export interface PrecomputedModelInfo {
  /** The activation file's name. */
  name: string;
  kind: 'npy';
  /** Rows in the file, each an input. */
  rows: number;
  /** No model, no classes. */
  classNames: null;
}

/** The modalities an atlas can hold, each with its model description. */
export interface ModalityModels {
  image: ImageModelInfo;
  text: TextModelInfo;
  precomputed: PrecomputedModelInfo;
}
export type Modality = keyof ModalityModels;

/** What each modality keeps per input to show it: an image's thumbnail, a document's tokens. */
export interface ModalityInputs {
  /** PNG data URLs of what the model saw. */
  image: { thumbnails: string[] };
  /** The token ids the model saw (`<|endoftext|>` first) and each token's text. */
  text: { tokenIds: number[][]; tokens: string[][] };
  /** Per row, where its points table gave them: a text, and an image as a data URL (null: none for that row). */
  precomputed: { texts?: (string | null)[]; images?: (string | null)[] };
}

export interface AtlasLayerInfo {
  name: string;
  /** Output shape without the batch dimension. */
  shape: number[];
  dim: number;
  /** The shape of the layer's positions ([H, W], [T] or []); a point's position indexes it row-major. */
  positionShape: number[];
}

/** Per-input columns every modality has. */
export interface InputColumns {
  names: string[];
  /** Index into labelNames, -1 where unknown. */
  label: number[];
  /** Index into labelNames of the top predicted class, -1 without a classifier output. */
  predicted: number[];
  probability: number[];
}

export type AtlasInputs<M extends Modality = Modality> = InputColumns & ModalityInputs[M];

/**
 * Per-point columns: which input and position, and the normalised 2-D layout in [0, 1]. Typed columns, never
 * per-point values: a million points are 16 MB here, move between threads by transfer and draw as GPU attributes.
 */
export interface AtlasPoints {
  input: Uint32Array;
  /** Flat index into the layer's positionShape, -1 when pooled. */
  position: Int32Array;
  layoutX: Float32Array;
  layoutY: Float32Array;
  /** Rows recorded before sampling to the memory budget; equal to input.length when nothing was dropped. */
  totalBeforeSampling: number;
}

/** An atlas of one modality. */
export interface AtlasOf<M extends Modality> {
  modality: M;
  model: ModalityModels[M];
  inputs: AtlasInputs<M>;
  layer: AtlasLayerInfo;
  params: AtlasParams;
  labelNames: string[];
  points: AtlasPoints;
  levels: GridLevel[];
  /** What the user should know about how the atlas was made (sampling, dropped values). */
  notices: string[];
  /** Feature-visualisation icons, keyed `${gridSize}:${i}:${j}`, as PNG data URLs. */
  icons?: Record<string, string>;
  /** Concept vectors the user made at this layer. */
  concepts?: Concept[];
  /** Every unit's statistics and top inputs over every recorded row (absent in files made before they were kept). */
  units?: UnitSummary;
}

export type Atlas = { [M in Modality]: AtlasOf<M> }[Modality];

/** An input that could not be used, and why; the rest of the batch still goes through. */
export interface InputError {
  name: string;
  reason: string;
}

/** What recording produced, as plain columns (no tensors): the first stage's answer and the second's question. */
export type RecordedColumns = { [M in Modality]: RecordedOf<M> }[Modality];

/**
 * A recording without its previews: what the layout stage needs. The previews (3,000 thumbnail data URLs
 * cost Chromium about 60 ms of main thread for each crossing between threads) stay with the page.
 */
export type LayoutColumns = WithoutPreviews<RecordedColumns>;
/** A recording (or a union of them) less its previews. */
type WithoutPreviews<R> = R extends unknown ? Omit<R, 'previews'> : never;

/** An atlas as the layout stage returns it: everything but the inputs' previews. */
export type LaidOutAtlas = { [M in Modality]: Omit<AtlasOf<M>, 'inputs'> & { inputs: InputColumns } }[Modality];

/** A recording less its previews, for the layout stage. */
export function withoutPreviews<R extends RecordedColumns>(recorded: R): WithoutPreviews<R> {
  const { previews: _, ...columns } = recorded;
  return columns as WithoutPreviews<R>;
}

export type Previews = RecordedColumns['previews'];

/** Inputs [start, end) of a recording's previews: every field holds one entry per input. */
export function slicePreviews<P extends Previews>(previews: P, start: number, end: number): P {
  return Object.fromEntries(Object.entries(previews).map(([key, perInput]) => [key, (perInput as unknown[]).slice(start, end)])) as P;
}

/** Slices of one recording's previews, in order, as one. */
export function joinPreviews<P extends Previews>(slices: P[]): P {
  return Object.fromEntries(Object.keys(slices[0]).map((key) => [key, slices.flatMap((p) => (p as Record<string, unknown[]>)[key])])) as P;
}

/** The per-input fields of each modality's previews (the keys of `ModalityInputs`), checked when previews arrive apart. */
const PREVIEW_FIELDS: { [M in Modality]: (keyof ModalityInputs[M])[] } = { image: ['thumbnails'], text: ['tokenIds', 'tokens'], precomputed: [] };

/** A recording from its columns and its previews, which may have come separately (in slices, from the model worker). */
export function withRecordedPreviews(columns: LayoutColumns, previews: Previews): RecordedColumns {
  for (const field of PREVIEW_FIELDS[columns.modality]) {
    const perInput = (previews as Record<string, unknown[] | undefined>)[field];
    if (perInput?.length !== columns.names.length) {
      throw new Error(`The recording has ${columns.names.length} inputs but ${perInput?.length ?? 'no'} ${columns.modality} previews (${field}).`);
    }
  }
  // Checked above: the previews are the recording's own kind, one per input.
  return { ...columns, previews } as RecordedColumns;
}

/** The atlas the layout stage laid out, with the previews of the recording it came from. */
export function withPreviews(laid: LaidOutAtlas, recorded: RecordedColumns): Atlas {
  if (laid.modality !== recorded.modality) throw new Error(`A ${laid.modality} layout cannot take ${recorded.modality} previews.`);
  if (laid.inputs.names.length !== recorded.names.length) {
    throw new Error(`The layout has ${laid.inputs.names.length} inputs and the recording ${recorded.names.length}.`);
  }
  // Modality checked above: the previews are the atlas's own kind.
  return { ...laid, inputs: { ...laid.inputs, ...recorded.previews } } as Atlas;
}

export interface RecordedOf<M extends Modality> {
  modality: M;
  model: ModalityModels[M];
  /** What the modality keeps to show each input. */
  previews: ModalityInputs[M];
  table: ActivationTable;
  /** Output shape of the recorded layer, without the batch dimension. */
  layerShape: number[];
  /** What was recorded: 'pooled' also where positions were asked of a layer without them. */
  samplesPerInput: PositionSampling;
  names: string[];
  labels: (string | null)[];
  predicted: Int32Array;
  probability: Float32Array;
  notices: string[];
  /** Every unit's statistics and top rows over every recorded row; the table holds only the sample. */
  units?: UnitSummary;
}

/**
 * One list of label names for true labels and predictions alike: the model's classes first (so predicted
 * indices map straight in), then any folder labels the model does not know.
 */
export function labelIndex(classNames: string[] | null) {
  const names = [...(classNames ?? [])];
  const index = new Map(names.map((n, i) => [n, i]));
  const of = (name: string) => {
    let i = index.get(name);
    if (i === undefined) {
      i = names.length;
      names.push(name);
      index.set(name, i);
    }
    return i;
  };
  return { names, of };
}

/** The rows of a table where `keep` is set, as a new table (totalBeforeSampling kept). */
export function keepRows(table: ActivationTable, keep: Uint8Array): ActivationTable {
  const { dim } = table;
  let count = 0;
  for (let r = 0; r < table.count; r++) count += keep[r];
  if (count === table.count) return table;
  const values = new Float32Array(count * dim);
  const input = new Uint32Array(count);
  const position = new Int32Array(count);
  const key = table.key ? new Int32Array(count) : undefined;
  for (let r = 0, o = 0; r < table.count; r++) {
    if (!keep[r]) continue;
    values.set(table.values.subarray(r * dim, (r + 1) * dim), o * dim);
    input[o] = table.input[r];
    position[o] = table.position[r];
    if (key) key[o] = table.key![r];
    o++;
  }
  return { ...table, count, values, input, position, ...(key ? { key } : {}) };
}

/** A mask of the rows whose `width` values (of a row-major array) are all finite, and how many are not. */
export function finiteRows(values: Float32Array, rows: number, width: number): { keep: Uint8Array; dropped: number } {
  const keep = new Uint8Array(rows);
  let dropped = 0;
  for (let r = 0; r < rows; r++) {
    let ok = 1;
    for (let k = r * width, end = k + width; k < end; k++) if (!Number.isFinite(values[k])) ok = 0;
    keep[r] = ok;
    dropped += 1 - ok;
  }
  return { keep, dropped };
}

const droppedNotice = (dropped: number, what: string) =>
  `Dropped ${dropped.toLocaleString('en')} activation${dropped === 1 ? '' : 's'} with NaN or infinite ${what}; the atlas shows the rest.`;

/**
 * The points of a table laid out: its input and position columns (copies: the atlas moves to the page by transfer
 * while the compute worker keeps the table) and the normalised layout split into x and y.
 */
function layoutPoints(table: ActivationTable, normalised: Layout): AtlasPoints {
  const layoutX = new Float32Array(table.count);
  const layoutY = new Float32Array(table.count);
  for (let r = 0; r < table.count; r++) {
    layoutX[r] = normalised[2 * r];
    layoutY[r] = normalised[2 * r + 1];
  }
  return {
    input: table.input.slice(0, table.count),
    position: table.position.slice(0, table.count),
    layoutX,
    layoutY,
    totalBeforeSampling: table.totalBeforeSampling,
  };
}

/** Builds the atlas from a projected table: normalises the layout, bins every grid level and gathers the per-input columns. */
export function assembleAtlas(
  recorded: LayoutColumns,
  layout: Layout,
  params: AtlasParams,
  notices: string[] = recorded.notices,
  /** How the layout maps into [0, 1]: the fitted rows' frame where rows were placed into a fit; by default the layout's own. */
  frame: LayoutFrame = layoutFrame(layout),
): LaidOutAtlas {
  const { table, model } = recorded;
  const labels = labelIndex(model.classNames);
  const n = recorded.names.length;
  const label = new Int32Array(n);
  const predicted = new Int32Array(n);
  const histogramLabel = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const truth = recorded.labels[i];
    label[i] = truth === null ? -1 : labels.of(truth);
    const p = recorded.predicted[i];
    predicted[i] = p < 0 ? -1 : labels.of(model.classNames?.[p] ?? `class ${p}`);
    // Cells are described by true labels where known, by predictions otherwise.
    histogramLabel[i] = label[i] >= 0 ? label[i] : predicted[i];
  }
  const normalised = applyFrame(layout, frame);
  const levels = buildLevels(table, normalised, {
    sizes: params.gridSizes,
    minCount: params.minCellCount,
    topK: params.topK,
    inputLabel: histogramLabel,
  });
  const probability = (p: number) => (Number.isFinite(p) ? Math.round(p * 1e4) / 1e4 : 0);
  // Modality and model travel together from the recording, so they still match here.
  return {
    modality: recorded.modality,
    model,
    layer: { name: table.layer, shape: recorded.layerShape, dim: table.dim, positionShape: table.positionShape },
    params: { ...params, samplesPerInput: recorded.samplesPerInput },
    labelNames: labels.names,
    inputs: {
      names: recorded.names,
      label: Array.from(label),
      predicted: Array.from(predicted),
      probability: Array.from(recorded.probability, probability),
    },
    points: layoutPoints(table, normalised),
    levels,
    notices,
    ...(recorded.units ? { units: recorded.units } : {}),
  } as LaidOutAtlas;
}

/** Progress of the layout stage; `layout` carries a snapshot while the projection settles. */
export type LayoutProgress = (event: ProgressEvent & { layout?: Float32Array }) => void;

/** How a layout stage scales: threads, the fit's sample size, a fit to place into, and who keeps the fit. */
export type LayoutScale = Pick<ScaleOptions, 'runner' | 'fitSample' | 'fit'> & {
  /** Receives the fit the rows were laid out by (for placing more rows later, e.g. shards); absent for stock engines. */
  onFit?: (fit: LayoutFit) => void;
};

/**
 * The second stage of every atlas build, in the compute worker and in the CLI alike: drops rows with
 * non-finite values (and says how many), projects (fitting on a sample and placing the rest beyond
 * FIT_SAMPLE rows), drops non-finite layout points, and assembles.
 */
export async function layoutAtlas(
  recorded: LayoutColumns,
  params: AtlasParams,
  onProgress?: LayoutProgress,
  signal?: AbortSignal,
  /** Receives the table the atlas was built from (its rows are the atlas's points). */
  onTable?: (table: ActivationTable) => void,
  scale: LayoutScale = {},
): Promise<LaidOutAtlas> {
  const notices = [...recorded.notices];
  let table = recorded.table;
  const finite = finiteRows(table.values, table.count, table.dim);
  if (finite.dropped > 0) {
    table = keepRows(table, finite.keep);
    notices.push(droppedNotice(finite.dropped, 'values'));
  }
  const progress: ProjectionProgress = (done, total, layout) => onProgress?.({ stage: 'project', done, total, ...(layout ? { layout } : {}) });
  const scaled = await projectAtScale(table.values, table.count, table.dim, projectionOptions(params), { ...scale, onProgress: progress, signal });
  let layout = scaled.layout;
  if (scaled.fit) scale.onFit?.(scaled.fit);
  if (scaled.sample) {
    const count = table.count.toLocaleString('en');
    notices.push(`The layout was fitted on ${scaled.sample.length.toLocaleString('en')} of the ${count} rows (a seeded sample); the rest were placed into it by their nearest fitted rows.`);
  }
  const placed = finiteRows(layout, table.count, 2);
  if (placed.dropped > 0) {
    layout = layout.filter((_, k) => placed.keep[k >> 1] === 1);
    table = keepRows(table, placed.keep);
    notices.push(droppedNotice(placed.dropped, 'layout coordinates'));
  }
  onProgress?.({ stage: 'grid', done: 0, total: 1 });
  const atlas = assembleAtlas({ ...recorded, table }, layout, params, notices, scaled.fit ? scaled.frame : layoutFrame(layout));
  onTable?.(table);
  onProgress?.({ stage: 'grid', done: 1, total: 1 });
  return atlas;
}

/** The two stages of an atlas build: recording (model) then layout (compute), wherever each runs. */
export interface AtlasStages {
  record(request: AtlasRequest): Promise<RecordedColumns & { errors: InputError[] }>;
  layout(recorded: LayoutColumns, params: AtlasParams): Promise<LaidOutAtlas>;
}

/** Builds an atlas from a request: the one pipeline of the page (stages in workers) and the CLI (stages in process). */
export async function buildAtlas(request: AtlasRequest, stages: AtlasStages): Promise<{ atlas: Atlas; errors: InputError[] }> {
  const { errors, ...recorded } = await stages.record(request);
  const laid = await stages.layout(withoutPreviews(recorded), request.params);
  return { atlas: withPreviews(laid, recorded), errors };
}
