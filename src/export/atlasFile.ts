import type { AtlasCell, GridLevel, Metric, ProjectionMethod } from '../compute/types';
import { decodeFloat32, encodeFloat32 } from '../lib/base64';

/** The one self-contained file an atlas is saved to and opened from (CLI and app alike). */
export const ATLAS_FORMAT = 'activation-atlas';
export const ATLAS_VERSION = 1;

export interface AtlasModelInfo {
  name: string;
  kind: 'layers' | 'graph';
  inputHeight: number;
  inputWidth: number;
  inputChannels: number;
  classNames: string[] | null;
}

export interface AtlasLayerInfo {
  name: string;
  /** Output shape without the batch dimension. */
  shape: number[];
  dim: number;
  gridWidth: number;
  gridHeight: number;
}

export interface AtlasParams {
  method: ProjectionMethod;
  metric: Metric;
  pcaDims: number;
  seed: number;
  /** 'pooled': one point per input; a number: that many spatial samples per input; 'all': every position. */
  samplesPerImage: 'pooled' | 'all' | number;
  minCellCount: number;
  topK: number;
}

/** Per-input columns; thumbnails are PNG data URLs. */
export interface AtlasInputs {
  names: string[];
  label: number[];
  predicted: number[];
  probability: number[];
  thumbnails: string[];
}

/** Per-point columns: which input and spatial position, and the normalised 2-D layout in [0, 1]. */
export interface AtlasPoints {
  input: number[];
  x: number[];
  y: number[];
  layoutX: number[];
  layoutY: number[];
  /** Rows recorded before sampling; equal to input.length when nothing was dropped. */
  totalBeforeSampling: number;
}

export interface Atlas {
  model: AtlasModelInfo;
  layer: AtlasLayerInfo;
  params: AtlasParams;
  labelNames: string[];
  inputs: AtlasInputs;
  points: AtlasPoints;
  levels: GridLevel[];
  /** Optional feature-visualisation icons, keyed `${gridSize}:${i}:${j}`, as PNG data URLs. */
  icons?: Record<string, string>;
}

interface CellJson {
  i: number;
  j: number;
  count: number;
  mean: string;
  labels: [number, number][];
  top: [number, number, number, number, number][];
  exemplar: [number, number, number, number, number];
}

export interface AtlasFileJson {
  format: typeof ATLAS_FORMAT;
  version: number;
  createdAt: string;
  model: AtlasModelInfo;
  layer: AtlasLayerInfo;
  params: AtlasParams;
  labelNames: string[];
  inputs: AtlasInputs;
  points: AtlasPoints;
  levels: { size: number; cells: CellJson[] }[];
  icons?: Record<string, string>;
}

export class AtlasFileError extends Error {
  override name = 'AtlasFileError';
}

const topToTuple = (t: AtlasCell['exemplar']): [number, number, number, number, number] => [
  t.row,
  t.input,
  t.x,
  t.y,
  Math.fround(t.score),
];
const tupleToTop = ([row, input, x, y, score]: number[]) => ({ row, input, x, y, score });

/** Serialises an atlas to its versioned JSON form (mean vectors as base64 float32). */
export function atlasToJson(atlas: Atlas): AtlasFileJson {
  return {
    format: ATLAS_FORMAT,
    version: ATLAS_VERSION,
    createdAt: new Date().toISOString(),
    model: atlas.model,
    layer: atlas.layer,
    params: atlas.params,
    labelNames: atlas.labelNames,
    inputs: atlas.inputs,
    points: atlas.points,
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
      })),
    })),
    ...(atlas.icons ? { icons: atlas.icons } : {}),
  };
}

export function serializeAtlas(atlas: Atlas): string {
  return JSON.stringify(atlasToJson(atlas));
}

function check(condition: unknown, message: string): asserts condition {
  if (!condition) throw new AtlasFileError(message);
}

const isNumberArray = (a: unknown, length?: number): a is number[] =>
  Array.isArray(a) && (length === undefined || a.length === length) && a.every((v) => typeof v === 'number');

/** Parses and validates an atlas file; every problem is an AtlasFileError with a readable message. */
export function parseAtlas(text: string): Atlas {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new AtlasFileError(`Not an atlas file: the text is not JSON (${(e as Error).message}).`);
  }
  check(raw && typeof raw === 'object' && !Array.isArray(raw), 'Not an atlas file: expected a JSON object.');
  const f = raw as Partial<AtlasFileJson>;
  check(f.format === ATLAS_FORMAT, `Not an atlas file: "format" is ${JSON.stringify(f.format)}, expected "${ATLAS_FORMAT}".`);
  check(typeof f.version === 'number', 'Atlas file has no version number.');
  check(
    f.version <= ATLAS_VERSION,
    `Atlas file version ${f.version} is newer than this app understands (${ATLAS_VERSION}); update the app.`,
  );
  check(f.model && typeof f.model.name === 'string', 'Atlas file has no model description.');
  check(f.layer && typeof f.layer.name === 'string' && typeof f.layer.dim === 'number', 'Atlas file has no layer description.');
  check(f.params && typeof f.params.method === 'string', 'Atlas file has no projection parameters.');
  check(Array.isArray(f.labelNames), 'Atlas file has no label names.');
  const inputs = f.inputs;
  check(inputs && Array.isArray(inputs.names), 'Atlas file has no inputs.');
  const n = inputs.names.length;
  for (const key of ['label', 'predicted', 'probability'] as const) {
    check(isNumberArray(inputs[key], n), `Atlas file: inputs.${key} must hold ${n} numbers.`);
  }
  check(Array.isArray(inputs.thumbnails) && inputs.thumbnails.length === n, `Atlas file: inputs.thumbnails must hold ${n} images.`);
  const points = f.points;
  check(points && Array.isArray(points.input), 'Atlas file has no points.');
  const m = points.input.length;
  for (const key of ['input', 'x', 'y', 'layoutX', 'layoutY'] as const) {
    check(isNumberArray(points[key], m), `Atlas file: points.${key} must hold ${m} numbers.`);
  }
  check(points.input.every((k) => k >= 0 && k < n), 'Atlas file: a point refers to an input that does not exist.');
  check(Array.isArray(f.levels) && f.levels.length > 0, 'Atlas file has no grid levels.');
  const dim = f.layer.dim;
  const levels: GridLevel[] = f.levels.map((level, li) => {
    check(typeof level.size === 'number' && Array.isArray(level.cells), `Atlas file: level ${li} is malformed.`);
    return {
      size: level.size,
      cells: level.cells.map((c, ci) => {
        const where = `level ${level.size}, cell ${ci}`;
        check(typeof c.i === 'number' && typeof c.j === 'number' && typeof c.count === 'number', `Atlas file: ${where} is malformed.`);
        check(c.i >= 0 && c.i < level.size && c.j >= 0 && c.j < level.size, `Atlas file: ${where} lies outside its grid.`);
        let mean: Float32Array;
        try {
          mean = decodeFloat32(c.mean);
        } catch {
          throw new AtlasFileError(`Atlas file: ${where} has an unreadable mean vector.`);
        }
        check(mean.length === dim, `Atlas file: ${where} has a mean of ${mean.length} values, expected ${dim}.`);
        check(Array.isArray(c.top) && c.top.every((t) => isNumberArray(t, 5)), `Atlas file: ${where} has malformed top inputs.`);
        check(isNumberArray(c.exemplar, 5), `Atlas file: ${where} has a malformed exemplar.`);
        check(c.top.every((t) => t[0] >= 0 && t[0] < m), `Atlas file: ${where} ranks a point that does not exist.`);
        return {
          i: c.i,
          j: c.j,
          count: c.count,
          mean,
          labels: c.labels,
          top: c.top.map(tupleToTop),
          exemplar: tupleToTop(c.exemplar),
        };
      }),
    };
  });
  return {
    model: f.model,
    layer: f.layer,
    params: f.params,
    labelNames: f.labelNames,
    inputs,
    points,
    levels,
    ...(f.icons ? { icons: f.icons } : {}),
  };
}
