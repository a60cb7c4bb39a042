import * as v from 'valibot';
import {
  DEFAULT_ATLAS_PARAMS,
  type Atlas,
  type AtlasLayerInfo,
  type AtlasParams,
  type AtlasPoints,
  type ImageModelInfo,
  type InputColumns,
  type PrecomputedModelInfo,
  type TextModelInfo,
} from '../compute/atlas';
import type { Concept } from '../compute/directions/concept';
import type { UnitSummary } from '../compute/stream/recorder';
import type { AtlasCell, GridLevel, TopInput } from '../compute/types';
import { base64ToBytes, bytesToBase64, decodeFloat32, encodeFloat32 } from '../lib/base64';
import { BLANK_IMAGE_DATA_URL, isImageDataUrl } from '../lib/dataUrl';
import { parseOrFail } from '../lib/validate';

/** The one self-contained file an atlas is saved to and opened from (CLI and app alike). */
export const ATLAS_FORMAT = 'activation-atlas';
/**
 * 3: the points' columns are base64 little-endian typed arrays (a million points open in a tenth of the time of
 * JSON number arrays and take half the bytes: bench/results/atlas-file-2026-12-06.txt), and so are the inputs'
 * numeric columns from BINARY_INPUTS_FROM inputs on. 2: every column a JSON array. 1: before modalities.
 */
export const ATLAS_VERSION = 3;

/** From this many inputs, label, predicted and probability are written as binary columns; fewer stay readable JSON. */
export const BINARY_INPUTS_FROM = 1024;

export class AtlasFileError extends Error {
  override name = 'AtlasFileError';
}

const integer = v.pipe(v.number(), v.integer());
const positive = v.pipe(v.number(), v.integer(), v.minValue(1));
const count = v.pipe(v.number(), v.integer(), v.minValue(0));
/** An index into a column, or -1 for none. */
const indexOrNone = v.pipe(v.number(), v.integer(), v.minValue(-1));
const finite = v.pipe(v.number(), v.finite());

// Each schema is checked against the domain type it reads, so the two cannot drift apart.
const imageModelSchema = v.object({
  name: v.string(),
  kind: v.picklist(['layers', 'graph']),
  inputHeight: positive,
  inputWidth: positive,
  inputChannels: positive,
  classNames: v.nullable(v.array(v.string())),
}) satisfies v.GenericSchema<ImageModelInfo>;

const textModelSchema = v.object({
  name: v.string(),
  kind: v.literal('gpt2'),
  nLayer: positive,
  nEmbd: positive,
  contextLength: positive,
  vocabSize: positive,
  classNames: v.null(),
}) satisfies v.GenericSchema<TextModelInfo>;

const precomputedModelSchema = v.object({
  name: v.string(),
  kind: v.literal('npy'),
  rows: count,
  classNames: v.null(),
}) satisfies v.GenericSchema<PrecomputedModelInfo>;

const layerSchema = v.object({
  name: v.string(),
  shape: v.array(positive),
  dim: positive,
  positionShape: v.array(positive),
}) satisfies v.GenericSchema<AtlasLayerInfo>;

const paramsSchema = v.object({
  method: v.picklist(['umap', 'tsne', 'umap-js', 'tsne-js']),
  metric: v.picklist(['euclidean', 'cosine']),
  pcaDims: count,
  seed: integer,
  nNeighbors: positive,
  minDist: v.pipe(finite, v.minValue(0)),
  perplexity: v.pipe(finite, v.minValue(0)),
  iterations: v.nullable(positive),
  samplesPerInput: v.union([v.picklist(['pooled', 'all']), positive]),
  gridSizes: v.array(positive),
  minCellCount: count,
  topK: count,
}) satisfies v.GenericSchema<AtlasParams>;

/** A ranked point as stored: [row, input, position, score]. */
const topSchema = v.tuple([count, count, indexOrNone, finite]);

/** Grid levels whose cells rank points as `top` tuples. */
const levelsSchema = <T extends v.GenericSchema>(top: T) =>
  v.pipe(
    v.array(
      v.object({
        size: positive,
        cells: v.array(
          v.object({
            i: count,
            j: count,
            count: positive,
            /** The mean activation as base64 little-endian float32. */
            mean: v.string(),
            labels: v.array(v.tuple([count, count])),
            top: v.array(top),
            exemplar: top,
            /** [key, weight]: text cells' typical token ids. */
            keys: v.optional(v.array(v.tuple([count, finite]))),
          }),
        ),
      }),
    ),
    v.minLength(1, 'an atlas needs at least one grid level'),
  );

/** A concept as stored: its direction as base64 little-endian float32, like a cell's mean. */
const conceptSchema = v.object({
  id: v.string(),
  name: v.string(),
  layer: v.string(),
  method: v.picklist(['difference-of-means', 'logistic']),
  direction: v.string(),
  accuracy: v.nullable(v.pipe(finite, v.minValue(0), v.maxValue(1))),
  folds: count,
  positives: count,
  negatives: count,
  source: v.string(),
}) satisfies v.GenericSchema<Omit<Concept, 'direction'> & { direction: string }>;

const probabilityValue = v.pipe(finite, v.minValue(0), v.maxValue(1));
/** Version 2's per-input columns: JSON arrays. */
const inputColumnsV2 = {
  names: v.array(v.string()),
  label: v.array(indexOrNone),
  predicted: v.array(indexOrNone),
  probability: v.array(probabilityValue),
};
/** Version 3's: JSON arrays, or from BINARY_INPUTS_FROM inputs on base64 int32 (label, predicted) and float32 (probability). */
const inputColumnsV3 = {
  names: v.array(v.string()),
  label: v.union([v.array(indexOrNone), v.string()]),
  predicted: v.union([v.array(indexOrNone), v.string()]),
  probability: v.union([v.array(probabilityValue), v.string()]),
};

/** Version 2's point columns: JSON arrays. */
const pointsV2 = { input: v.array(count), layoutX: v.array(finite), layoutY: v.array(finite), totalBeforeSampling: count };
/** Version 3's: `count` points, each column base64 little-endian (input uint32, position or token int32, layout float32). */
const pointsV3 = { count, input: v.string(), layoutX: v.string(), layoutY: v.string(), totalBeforeSampling: count };

/** Every unit's statistics and top rows over every recorded row: columns of one entry per unit. */
const unitsSchema = v.object({
  rows: count,
  count: v.array(count),
  mean: v.array(finite),
  std: v.array(v.pipe(finite, v.minValue(0))),
  min: v.array(finite),
  max: v.array(finite),
  /** Per unit, best first: [input, position (-1: pooled), value]. */
  top: v.array(v.array(v.tuple([count, indexOrNone, finite]))),
}) satisfies v.GenericSchema<UnitSummary>;

/** The fields every modality's file has, at one version. */
const commonOf = <V extends number>(version: V) => ({
  format: v.literal(ATLAS_FORMAT),
  version: v.literal(version),
  createdAt: v.string(),
  layer: layerSchema,
  params: paramsSchema,
  labelNames: v.array(v.string()),
  levels: levelsSchema(topSchema),
  notices: v.optional(v.array(v.string()), []),
  icons: v.optional(v.record(v.string(), v.string())),
  concepts: v.optional(v.array(conceptSchema)),
  units: v.optional(unitsSchema),
});

/**
 * One version's file: the three modalities, each with its model, inputs and points. `points` are the version's
 * layout columns, `position` the schema of its position (or token) column, `inputs` its per-input columns.
 */
const fileSchemaOf = <V extends number, P extends v.ObjectEntries, I extends v.ObjectEntries, X extends v.GenericSchema>(version: V, points: P, position: X, inputs: I) =>
  v.variant('modality', [
    v.object({
      ...commonOf(version),
      modality: v.literal('image'),
      model: imageModelSchema,
      inputs: v.object({ ...inputs, thumbnails: v.array(v.string()) }),
      /** position: a flat index into layer.positionShape, -1 when pooled. */
      points: v.object({ ...points, position }),
    }),
    v.object({
      ...commonOf(version),
      modality: v.literal('text'),
      model: textModelSchema,
      /** Per document: the token ids the model saw, `<|endoftext|>` first, and each token's text. */
      inputs: v.object({ ...inputs, tokenIds: v.array(v.array(count)), tokens: v.array(v.array(v.string())) }),
      /** token: the recorded token's index into its document's tokenIds, -1 when pooled. */
      points: v.object({ ...points, token: position }),
    }),
    v.object({
      ...commonOf(version),
      modality: v.literal('precomputed'),
      model: precomputedModelSchema,
      /** Per row of the activation file, where its points table gave them: its text, its image as a data URL. */
      inputs: v.object({ ...inputs, texts: v.optional(v.array(v.nullable(v.string()))), images: v.optional(v.array(v.nullable(v.string()))) }),
      /** One pooled point per row: position is always -1. */
      points: v.object({ ...points, position }),
    }),
  ]);

const fileSchema = fileSchemaOf(ATLAS_VERSION, pointsV3, v.string(), inputColumnsV3);
const fileSchemaV2 = fileSchemaOf(2, pointsV2, v.array(indexOrNone), inputColumnsV2);
const imageInputsSchema = v.object({ ...inputColumnsV2, thumbnails: v.array(v.string()) });

/** The JSON form of an atlas file, as written (the current version). */
export type AtlasFileJson = v.InferOutput<typeof fileSchema>;
type FileV2 = v.InferOutput<typeof fileSchemaV2>;
type TopTuple = v.InferOutput<typeof topSchema>;

/** A file of any version with its columns read: the atlas's own per-input and per-point columns, not yet checked against each other. */
type ReadFile = FileV2 extends infer F
  ? F extends { inputs: infer I; points: unknown }
    ? Omit<F, 'inputs' | 'points' | 'version'> & { inputs: Omit<I, keyof InputColumns> & InputColumns; points: AtlasPoints }
    : never
  : never;

/** Version 1 (before modalities): positions as (x, y), params without the UMAP/t-SNE settings. */
const fileSchemaV1 = v.object({
  format: v.literal(ATLAS_FORMAT),
  version: v.literal(1),
  createdAt: v.string(),
  model: imageModelSchema,
  layer: v.object({ name: v.string(), shape: v.array(positive), dim: positive, gridWidth: positive, gridHeight: positive }),
  params: v.object({
    method: paramsSchema.entries.method,
    metric: paramsSchema.entries.metric,
    pcaDims: count,
    seed: integer,
    samplesPerImage: paramsSchema.entries.samplesPerInput,
    minCellCount: count,
    topK: count,
  }),
  labelNames: v.array(v.string()),
  inputs: imageInputsSchema,
  points: v.object({
    input: v.array(count),
    x: v.array(indexOrNone),
    y: v.array(indexOrNone),
    layoutX: v.array(finite),
    layoutY: v.array(finite),
    totalBeforeSampling: count,
  }),
  /** [row, input, x, y, score] */
  levels: levelsSchema(v.tuple([count, count, indexOrNone, indexOrNone, finite])),
  icons: v.optional(v.record(v.string(), v.string())),
});

const topToTuple = (t: TopInput): TopTuple => [t.row, t.input, t.position, Math.fround(t.score)];
const tupleToTop = ([row, input, position, score]: TopTuple): TopInput => ({ row, input, position, score });

/** A typed column as base64 of its little-endian bytes (the platforms the app runs on are little-endian, as WebGL's are). */
const encodeColumn = (column: Uint32Array | Int32Array | Float32Array): string =>
  bytesToBase64(new Uint8Array(column.buffer, column.byteOffset, column.byteLength));

/** The per-input numeric columns as a file holds them: binary from BINARY_INPUTS_FROM inputs on. */
function inputNumbers(inputs: InputColumns): Pick<AtlasFileJson['inputs'], 'label' | 'predicted' | 'probability'> {
  if (inputs.names.length < BINARY_INPUTS_FROM) return { label: inputs.label, predicted: inputs.predicted, probability: inputs.probability };
  return {
    label: encodeColumn(Int32Array.from(inputs.label)),
    predicted: encodeColumn(Int32Array.from(inputs.predicted)),
    probability: encodeColumn(Float32Array.from(inputs.probability)),
  };
}

/** Serialises an atlas to its versioned JSON form (mean vectors and point columns as base64 typed arrays). */
export function atlasToJson(atlas: Atlas): AtlasFileJson {
  const { input, position, layoutX, layoutY, totalBeforeSampling } = atlas.points;
  const layout = { count: input.length, input: encodeColumn(input), layoutX: encodeColumn(layoutX), layoutY: encodeColumn(layoutY), totalBeforeSampling };
  const numbers = inputNumbers(atlas.inputs);
  const body = {
    format: ATLAS_FORMAT,
    version: ATLAS_VERSION,
    createdAt: new Date().toISOString(),
    layer: atlas.layer,
    params: atlas.params,
    labelNames: atlas.labelNames,
    levels: atlas.levels.map((level) => ({
      size: level.size,
      cells: level.cells.map((c) => ({
        i: c.i,
        j: c.j,
        count: c.count,
        mean: encodeFloat32(c.mean),
        labels: c.labels,
        top: c.top.map(topToTuple),
        exemplar: topToTuple(c.exemplar),
        ...(c.keys ? { keys: c.keys } : {}),
      })),
    })),
    notices: atlas.notices,
    ...(atlas.icons ? { icons: atlas.icons } : {}),
    ...(atlas.concepts?.length ? { concepts: atlas.concepts.map((c) => ({ ...c, direction: encodeFloat32(c.direction) })) } : {}),
    ...(atlas.units ? { units: atlas.units } : {}),
  } as const;
  const positions = encodeColumn(position);
  if (atlas.modality === 'text') return { ...body, modality: 'text', model: atlas.model, inputs: { ...atlas.inputs, ...numbers }, points: { ...layout, token: positions } };
  if (atlas.modality === 'precomputed') return { ...body, modality: 'precomputed', model: atlas.model, inputs: { ...atlas.inputs, ...numbers }, points: { ...layout, position: positions } };
  return { ...body, modality: 'image', model: atlas.model, inputs: { ...atlas.inputs, ...numbers }, points: { ...layout, position: positions } };
}

export function serializeAtlas(atlas: Atlas): string {
  return JSON.stringify(atlasToJson(atlas));
}

function validate<S extends v.GenericSchema>(schema: S, raw: unknown): v.InferOutput<S> {
  return parseOrFail(schema, raw, (problems) => new AtlasFileError(`Atlas file: ${problems}.`));
}

/** A version-1 file in version 2's form: (x, y) become flat positions, missing parameters are the engines' defaults then. */
function migrateV1(f: v.InferOutput<typeof fileSchemaV1>): FileV2 {
  const { gridWidth, gridHeight } = f.layer;
  const spatial = gridWidth * gridHeight > 1;
  const flat = (x: number, y: number) => (x < 0 || y < 0 ? -1 : y * gridWidth + x);
  const top = ([row, input, x, y, score]: number[]): TopTuple => [row, input, flat(x, y), score];
  const { samplesPerImage, ...params } = f.params;
  return {
    ...f,
    version: 2,
    modality: 'image',
    layer: { name: f.layer.name, shape: f.layer.shape, dim: f.layer.dim, positionShape: spatial ? [gridHeight, gridWidth] : [] },
    params: {
      ...DEFAULT_ATLAS_PARAMS,
      ...params,
      samplesPerInput: samplesPerImage,
      iterations: null,
      gridSizes: f.levels.map((l) => l.size),
    },
    points: {
      input: f.points.input,
      position: f.points.input.map((_, p) => flat(f.points.x[p], f.points.y[p])),
      layoutX: f.points.layoutX,
      layoutY: f.points.layoutY,
      totalBeforeSampling: f.points.totalBeforeSampling,
    },
    levels: f.levels.map((level) => ({
      size: level.size,
      cells: level.cells.map((c) => ({ ...c, top: c.top.map(top), exemplar: top(c.exemplar) })),
    })),
    notices: [],
  };
}

/** Every index checked against the column it points into; the message names the field. */
const fail = (message: string): never => {
  throw new AtlasFileError(`Atlas file: ${message}.`);
};

/** A text file's documents: one token list per input, tokens and ids alike, each id in the vocabulary. */
function checkDocuments(inputs: { tokenIds: number[][]; tokens: string[][] }, n: number, vocabSize: number): void {
  for (const key of ['tokenIds', 'tokens'] as const) {
    if (inputs[key].length !== n) fail(`inputs.${key} holds ${inputs[key].length} documents for ${n} inputs`);
  }
  inputs.tokenIds.forEach((ids, d) => {
    if (inputs.tokens[d].length !== ids.length) fail(`inputs.tokens[${d}] holds ${inputs.tokens[d].length} tokens, inputs.tokenIds[${d}] ${ids.length}`);
    const bad = ids.findIndex((id) => id >= vocabSize);
    if (bad >= 0) fail(`inputs.tokenIds[${d}][${bad}] is ${ids[bad]}, outside the model's vocabulary of ${vocabSize}`);
  });
}

/** Every index checked against the column it points into; the message names the field. */
function checkReferences(f: ReadFile): void {
  const { inputs, points, labelNames, layer } = f;
  const { position } = points;
  const positionField = f.modality === 'text' ? 'token' : 'position';
  const n = inputs.names.length;
  for (const key of ['label', 'predicted', 'probability'] as const) {
    if (inputs[key].length !== n) fail(`inputs.${key} holds ${inputs[key].length} values for ${n} inputs`);
  }
  if (f.modality === 'text') checkDocuments(f.inputs, n, f.model.vocabSize);
  else if (f.modality === 'precomputed') {
    for (const key of ['texts', 'images'] as const) {
      const column = f.inputs[key];
      if (column && column.length !== n) fail(`inputs.${key} holds ${column.length} values for ${n} inputs`);
    }
  } else if (f.inputs.thumbnails.length !== n) fail(`inputs.thumbnails holds ${f.inputs.thumbnails.length} values for ${n} inputs`);
  for (const key of ['label', 'predicted'] as const) {
    const bad = inputs[key].findIndex((l) => l >= labelNames.length);
    if (bad >= 0) fail(`inputs.${key}[${bad}] is ${inputs[key][bad]}, but there are ${labelNames.length} label names`);
  }
  const m = points.input.length;
  for (const [key, column] of [[positionField, position], ['layoutX', points.layoutX], ['layoutY', points.layoutY]] as const) {
    if (column.length !== m) fail(`points.${key} holds ${column.length} values for ${m} points`);
  }
  const badInput = points.input.findIndex((i) => i >= n);
  if (badInput >= 0) fail(`points.input[${badInput}] is ${points.input[badInput]}, but there are ${n} inputs`);
  const positions = layer.positionShape.reduce((a, b) => a * b, 1);
  const badPosition = position.findIndex((p) => p >= positions);
  if (badPosition >= 0) fail(`points.${positionField}[${badPosition}] is ${position[badPosition]}, but layer ${layer.name} has ${positions} positions`);
  if (f.modality === 'text') {
    const beyond = position.findIndex((p, k) => p >= f.inputs.tokenIds[points.input[k]].length);
    if (beyond >= 0) fail(`points.token[${beyond}] is ${position[beyond]}, past the end of document ${points.input[beyond]}`);
  }
  if (layer.shape[layer.shape.length - 1] !== layer.dim) fail(`layer.dim is ${layer.dim}, but layer.shape ends in ${layer.shape[layer.shape.length - 1]}`);
  f.levels.forEach((level, li) =>
    level.cells.forEach((c, ci) => {
      const at = `levels[${li}].cells[${ci}]`;
      if (c.i >= level.size || c.j >= level.size) fail(`${at} (${c.i}, ${c.j}) lies outside its ${level.size}x${level.size} grid`);
      const badLabel = c.labels.findIndex(([l]) => l >= labelNames.length);
      if (badLabel >= 0) fail(`${at}.labels[${badLabel}] names label ${c.labels[badLabel][0]}, but there are ${labelNames.length}`);
      [...c.top, c.exemplar].forEach(([row, input, at_], k) => {
        const where = k < c.top.length ? `${at}.top[${k}]` : `${at}.exemplar`;
        if (row >= m) fail(`${where} ranks point ${row}, but there are ${m} points`);
        if (input !== points.input[row] || at_ !== position[row]) {
          fail(`${where} says point ${row} is input ${input} at ${positionField} ${at_}; the points say input ${points.input[row]} at ${position[row]}`);
        }
      });
    }),
  );
  if (f.units) checkUnits(f.units, layer.dim, n, positions);
}

/** A file's unit summaries: one entry per unit in every column, each top row naming an input and a position that exist. */
function checkUnits(units: UnitSummary, dim: number, inputs: number, positions: number): void {
  for (const key of ['count', 'mean', 'std', 'min', 'max', 'top'] as const) {
    if (units[key].length !== dim) fail(`units.${key} holds ${units[key].length} entries for a layer of ${dim} units`);
  }
  units.top.forEach((rows, u) =>
    rows.forEach(([input, position], k) => {
      if (input >= inputs) fail(`units.top[${u}][${k}] names input ${input}, but there are ${inputs}`);
      if (position >= positions) fail(`units.top[${u}][${k}] is at position ${position}, but the layer has ${positions}`);
    }),
  );
}

/** A stored concept, checked against the atlas's layer: a concept only means something at the layer it was learnt. */
function readConcept(c: v.InferOutput<typeof conceptSchema>, layer: AtlasLayerInfo, at: string): Concept {
  if (c.layer !== layer.name) throw new AtlasFileError(`Atlas file: ${at}.layer: the concept "${c.name}" was learnt at ${c.layer}, not at this atlas's layer ${layer.name}.`);
  return { ...c, direction: decodeMean(c.direction, layer.dim, `${at}.direction`) };
}

function decodeMean(mean: string, dim: number, at: string): Float32Array {
  let values: Float32Array;
  try {
    values = decodeFloat32(mean);
  } catch {
    throw new AtlasFileError(`Atlas file: ${at} is not readable base64 float32.`);
  }
  if (values.length !== dim) throw new AtlasFileError(`Atlas file: ${at} holds ${values.length} values, expected ${dim} (layer.dim).`);
  if (!values.every(Number.isFinite)) throw new AtlasFileError(`Atlas file: ${at} holds NaN or infinite values.`);
  return values;
}

/**
 * The file's pictures, keeping only inline PNG, JPEG or WebP: a file may come from anyone, and a URL in it
 * would make the page fetch whatever it names. A dropped thumbnail becomes blank, a dropped icon leaves its
 * cell showing the exemplar; the file's notices say how many went.
 */
function keepInlinePictures(f: ReadFile): ReadFile {
  const notices = [...f.notices];
  const dropped = (field: string, urls: string[], first: string, then: string) =>
    notices.push(
      `${field}: ${urls.filter((url) => !isImageDataUrl(url)).length} of ${urls.length} were not base64 data:image/png, jpeg or webp URLs ` +
        `and were dropped (the first at ${first}); ${then}.`,
    );
  let picked = f;
  if (f.modality === 'image') {
    const { thumbnails } = f.inputs;
    const bad = thumbnails.findIndex((url) => !isImageDataUrl(url));
    if (bad >= 0) {
      dropped('inputs.thumbnails', thumbnails, `[${bad}]`, 'those inputs show blank');
      picked = { ...f, inputs: { ...f.inputs, thumbnails: thumbnails.map((url) => (isImageDataUrl(url) ? url : BLANK_IMAGE_DATA_URL)) } };
    }
  }
  if (f.modality === 'precomputed' && f.inputs.images) {
    const images = f.inputs.images;
    const bad = images.findIndex((url) => url !== null && !isImageDataUrl(url));
    if (bad >= 0) {
      dropped('inputs.images', images.filter((url): url is string => url !== null), `[${bad}]`, 'those rows show their text or label');
      picked = { ...f, inputs: { ...f.inputs, images: images.map((url) => (url !== null && isImageDataUrl(url) ? url : null)) } };
    }
  }
  const icons = Object.entries(f.icons ?? {});
  const badIcon = icons.find(([, url]) => !isImageDataUrl(url));
  if (badIcon) {
    dropped('icons', icons.map(([, url]) => url), `"${badIcon[0]}"`, 'those cells show their exemplars');
    picked = { ...picked, icons: Object.fromEntries(icons.filter(([, url]) => isImageDataUrl(url))) };
  }
  return picked === f ? f : { ...picked, notices };
}

/** A base64 column of `length` little-endian values of the given type; the message names the field. */
function readColumn<T extends Uint32Array | Int32Array | Float32Array>(text: string, Type: new (buffer: ArrayBuffer) => T, length: number, at: string): T {
  let bytes: Uint8Array<ArrayBuffer>;
  try {
    bytes = base64ToBytes(text);
  } catch {
    return fail(`${at} is not readable base64`);
  }
  const width = (Type as unknown as { BYTES_PER_ELEMENT: number }).BYTES_PER_ELEMENT;
  if (bytes.length !== length * width) fail(`${at} holds ${bytes.length} bytes, expected ${length * width} (${length} values)`);
  return new Type(bytes.buffer);
}

/** The first index where `bad` holds, or -1: one loop over a typed column, no per-value allocation. */
function firstBad(column: ArrayLike<number>, bad: (value: number) => boolean): number {
  for (let k = 0; k < column.length; k++) if (bad(column[k])) return k;
  return -1;
}

const notFinite = (x: number) => !Number.isFinite(x);

/** A version-3 file's binary columns read and range-checked (what version 2's schema checks value by value). */
function readV3(f: AtlasFileJson): ReadFile {
  const m = f.points.count;
  const positionField = f.modality === 'text' ? 'token' : 'position';
  const stored = f.modality === 'text' ? f.points.token : f.points.position;
  const input = readColumn(f.points.input, Uint32Array, m, 'points.input');
  const position = readColumn(stored, Int32Array, m, `points.${positionField}`);
  const layoutX = readColumn(f.points.layoutX, Float32Array, m, 'points.layoutX');
  const layoutY = readColumn(f.points.layoutY, Float32Array, m, 'points.layoutY');
  const badPosition = firstBad(position, (p) => p < -1);
  if (badPosition >= 0) fail(`points.${positionField}[${badPosition}] is ${position[badPosition]}, below -1 (pooled)`);
  for (const [key, column] of [['layoutX', layoutX], ['layoutY', layoutY]] as const) {
    const bad = firstBad(column, notFinite);
    if (bad >= 0) fail(`points.${key}[${bad}] is not a finite number`);
  }
  const n = f.inputs.names.length;
  const indices = (key: 'label' | 'predicted'): number[] => {
    const stored = f.inputs[key];
    if (typeof stored !== 'string') return stored;
    const column = readColumn(stored, Int32Array, n, `inputs.${key}`);
    const bad = firstBad(column, (l) => l < -1);
    if (bad >= 0) fail(`inputs.${key}[${bad}] is ${column[bad]}, below -1 (none)`);
    return Array.from(column);
  };
  const probabilities = (): number[] => {
    const stored = f.inputs.probability;
    if (typeof stored !== 'string') return stored;
    const column = readColumn(stored, Float32Array, n, 'inputs.probability');
    const bad = firstBad(column, (p) => !(p >= 0 && p <= 1));
    if (bad >= 0) fail(`inputs.probability[${bad}] is ${column[bad]}, outside [0, 1]`);
    // Written from values kept to 4 decimals (assembleAtlas): the same numbers come back, not their float32 neighbours.
    return Array.from(column, (p) => Math.round(p * 1e4) / 1e4);
  };
  const { points: _, version: __, ...rest } = f;
  // The variant's inputs keep their modality's own fields; only the numeric columns change form.
  return {
    ...rest,
    inputs: { ...f.inputs, label: indices('label'), predicted: indices('predicted'), probability: probabilities() },
    points: { input, position, layoutX, layoutY, totalBeforeSampling: f.points.totalBeforeSampling },
  } as ReadFile;
}

/** A version-2 (or migrated version-1) file's JSON array columns as the atlas's typed columns. */
function readV2(f: FileV2): ReadFile {
  const { points: _, version: __, ...rest } = f;
  const stored = f.modality === 'text' ? f.points.token : f.points.position;
  return {
    ...rest,
    points: {
      input: Uint32Array.from(f.points.input),
      position: Int32Array.from(stored),
      layoutX: Float32Array.from(f.points.layoutX),
      layoutY: Float32Array.from(f.points.layoutY),
      totalBeforeSampling: f.points.totalBeforeSampling,
    },
  } as ReadFile;
}

/** The file's columns of any version, read: version 1 migrates to 2, whose JSON arrays become typed columns as 3's base64 does. */
function readFile(raw: unknown, version: number): ReadFile {
  if (version === 1) return readV2(migrateV1(validate(fileSchemaV1, raw)));
  if (version === 2) return readV2(validate(fileSchemaV2, raw));
  return readV3(validate(fileSchema, raw));
}

/** Parses and validates an atlas file (versions 1 and 2 are read into 3's form); every problem is an AtlasFileError naming the field. */
export function parseAtlas(text: string): Atlas {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new AtlasFileError(`Not an atlas file: the text is not JSON (${(e as Error).message}).`);
  }
  return atlasFromJson(raw);
}

/** An atlas from a file's parsed JSON: validated, its columns read and checked against each other. */
export function atlasFromJson(raw: unknown): Atlas {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw new AtlasFileError('Not an atlas file: expected a JSON object.');
  const { format, version } = raw as { format?: unknown; version?: unknown };
  if (format !== ATLAS_FORMAT) throw new AtlasFileError(`Not an atlas file: "format" is ${JSON.stringify(format)}, expected "${ATLAS_FORMAT}".`);
  if (typeof version !== 'number') throw new AtlasFileError('Atlas file has no version number.');
  if (version > ATLAS_VERSION) {
    throw new AtlasFileError(`Atlas file version ${version} is newer than this app understands (${ATLAS_VERSION}); update the app.`);
  }
  const f = keepInlinePictures(readFile(raw, version));
  checkReferences(f);
  const levels: GridLevel[] = f.levels.map((level, li) => ({
    size: level.size,
    cells: level.cells.map(
      (c, ci): AtlasCell => ({
        i: c.i,
        j: c.j,
        count: c.count,
        mean: decodeMean(c.mean, f.layer.dim, `levels[${li}].cells[${ci}].mean`),
        labels: c.labels,
        top: c.top.map(tupleToTop),
        exemplar: tupleToTop(c.exemplar),
        ...(c.keys ? { keys: c.keys } : {}),
      }),
    ),
  }));
  // The variant's modality, model and inputs were validated together, so they still match.
  return {
    modality: f.modality,
    model: f.model,
    layer: f.layer,
    params: f.params,
    labelNames: f.labelNames,
    inputs: f.inputs,
    points: f.points,
    levels,
    notices: f.notices,
    ...(f.icons ? { icons: f.icons } : {}),
    ...(f.concepts ? { concepts: f.concepts.map((c, k) => readConcept(c, f.layer, `concepts[${k}]`)) } : {}),
    ...(f.units ? { units: f.units } : {}),
  } as Atlas;
}
