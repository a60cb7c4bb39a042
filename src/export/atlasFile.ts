import * as v from 'valibot';
import { DEFAULT_ATLAS_PARAMS, type Atlas, type AtlasLayerInfo, type AtlasParams, type ImageModelInfo, type PrecomputedModelInfo, type TextModelInfo } from '../compute/atlas';
import type { Concept } from '../compute/directions/concept';
import type { UnitSummary } from '../compute/stream/recorder';
import type { AtlasCell, GridLevel, TopInput } from '../compute/types';
import { decodeFloat32, encodeFloat32 } from '../lib/base64';
import { BLANK_IMAGE_DATA_URL, isImageDataUrl } from '../lib/dataUrl';
import { parseOrFail } from '../lib/validate';

/** The one self-contained file an atlas is saved to and opened from (CLI and app alike). */
export const ATLAS_FORMAT = 'activation-atlas';
export const ATLAS_VERSION = 2;

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

const inputColumns = {
  names: v.array(v.string()),
  label: v.array(indexOrNone),
  predicted: v.array(indexOrNone),
  probability: v.array(v.pipe(finite, v.minValue(0), v.maxValue(1))),
};
const imageInputsSchema = v.object({ ...inputColumns, thumbnails: v.array(v.string()) });

const layoutColumns = { input: v.array(count), layoutX: v.array(finite), layoutY: v.array(finite), totalBeforeSampling: count };

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

const common = {
  format: v.literal(ATLAS_FORMAT),
  version: v.literal(ATLAS_VERSION),
  createdAt: v.string(),
  layer: layerSchema,
  params: paramsSchema,
  labelNames: v.array(v.string()),
  levels: levelsSchema(topSchema),
  notices: v.optional(v.array(v.string()), []),
  icons: v.optional(v.record(v.string(), v.string())),
  concepts: v.optional(v.array(conceptSchema)),
  units: v.optional(unitsSchema),
};

const fileSchema = v.variant('modality', [
  v.object({
    ...common,
    modality: v.literal('image'),
    model: imageModelSchema,
    inputs: imageInputsSchema,
    /** position: a flat index into layer.positionShape, -1 when pooled. */
    points: v.object({ ...layoutColumns, position: v.array(indexOrNone) }),
  }),
  v.object({
    ...common,
    modality: v.literal('text'),
    model: textModelSchema,
    /** Per document: the token ids the model saw, `<|endoftext|>` first, and each token's text. */
    inputs: v.object({ ...inputColumns, tokenIds: v.array(v.array(count)), tokens: v.array(v.array(v.string())) }),
    /** token: the recorded token's index into its document's tokenIds, -1 when pooled. */
    points: v.object({ ...layoutColumns, token: v.array(indexOrNone) }),
  }),
  v.object({
    ...common,
    modality: v.literal('precomputed'),
    model: precomputedModelSchema,
    /** Per row of the activation file, where its points table gave them: its text, its image as a data URL. */
    inputs: v.object({ ...inputColumns, texts: v.optional(v.array(v.nullable(v.string()))), images: v.optional(v.array(v.nullable(v.string()))) }),
    /** One pooled point per row: position is always -1. */
    points: v.object({ ...layoutColumns, position: v.array(indexOrNone) }),
  }),
]);

/** The JSON form of an atlas file, as written and as read. */
export type AtlasFileJson = v.InferOutput<typeof fileSchema>;
type TopTuple = v.InferOutput<typeof topSchema>;

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

/** Serialises an atlas to its versioned JSON form (mean vectors as base64 float32). */
export function atlasToJson(atlas: Atlas): AtlasFileJson {
  const { position, ...layout } = atlas.points;
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
  if (atlas.modality === 'text') return { ...body, modality: 'text', model: atlas.model, inputs: atlas.inputs, points: { ...layout, token: position } };
  if (atlas.modality === 'precomputed') return { ...body, modality: 'precomputed', model: atlas.model, inputs: atlas.inputs, points: { ...layout, position } };
  return { ...body, modality: 'image', model: atlas.model, inputs: atlas.inputs, points: { ...layout, position } };
}

export function serializeAtlas(atlas: Atlas): string {
  return JSON.stringify(atlasToJson(atlas));
}

function validate<S extends v.GenericSchema>(schema: S, raw: unknown): v.InferOutput<S> {
  return parseOrFail(schema, raw, (problems) => new AtlasFileError(`Atlas file: ${problems}.`));
}

/** A version-1 file in version 2's form: (x, y) become flat positions, missing parameters are the engines' defaults then. */
function migrateV1(f: v.InferOutput<typeof fileSchemaV1>): AtlasFileJson {
  const { gridWidth, gridHeight } = f.layer;
  const spatial = gridWidth * gridHeight > 1;
  const flat = (x: number, y: number) => (x < 0 || y < 0 ? -1 : y * gridWidth + x);
  const top = ([row, input, x, y, score]: number[]): TopTuple => [row, input, flat(x, y), score];
  const { samplesPerImage, ...params } = f.params;
  return {
    ...f,
    version: ATLAS_VERSION,
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
function checkReferences(f: AtlasFileJson, position: number[]): void {
  const { inputs, points, labelNames, layer } = f;
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
function keepInlinePictures(f: AtlasFileJson): AtlasFileJson {
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

/** Parses and validates an atlas file (version 1 is migrated); every problem is an AtlasFileError naming the field. */
export function parseAtlas(text: string): Atlas {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new AtlasFileError(`Not an atlas file: the text is not JSON (${(e as Error).message}).`);
  }
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw new AtlasFileError('Not an atlas file: expected a JSON object.');
  const { format, version } = raw as { format?: unknown; version?: unknown };
  if (format !== ATLAS_FORMAT) throw new AtlasFileError(`Not an atlas file: "format" is ${JSON.stringify(format)}, expected "${ATLAS_FORMAT}".`);
  if (typeof version !== 'number') throw new AtlasFileError('Atlas file has no version number.');
  if (version > ATLAS_VERSION) {
    throw new AtlasFileError(`Atlas file version ${version} is newer than this app understands (${ATLAS_VERSION}); update the app.`);
  }
  const f = keepInlinePictures(version === 1 ? migrateV1(validate(fileSchemaV1, raw)) : validate(fileSchema, raw));
  const { token, position, ...layout } = { token: undefined, position: undefined, ...f.points };
  const positions = (f.modality === 'text' ? token : position) as number[];
  checkReferences(f, positions);
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
    points: { ...layout, position: positions },
    levels,
    notices: f.notices,
    ...(f.icons ? { icons: f.icons } : {}),
    ...(f.concepts ? { concepts: f.concepts.map((c, k) => readConcept(c, f.layer, `concepts[${k}]`)) } : {}),
    ...(f.units ? { units: f.units } : {}),
  } as Atlas;
}
