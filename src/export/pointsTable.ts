/**
 * Points tables: one row per point, as JSONL (one JSON object a line) or Parquet (hyparquet reads,
 * hyparquet-writer writes; both pure JavaScript, so the same code runs in Node and in the page).
 * A table that goes in describes the rows of a precomputed activation file (label, text, image per row);
 * a table that comes out is an atlas's points (x, y, cell, input, position, label, text), for pandas or
 * Embedding Atlas.
 */
import { parquetMetadata, parquetReadObjects, parquetSchema } from 'hyparquet';
import { parquetWriteBuffer } from 'hyparquet-writer';
import type { Atlas } from '../compute/atlas';
import { cellOf } from '../compute/grid';
import { messageOf } from '../lib/errors';

export class PointsTableError extends Error {
  override name = 'PointsTableError';
}

/** The columns a points table may give each row; any other column is ignored with a notice. */
export const POINT_COLUMNS = ['label', 'text', 'image'] as const;
type PointColumn = (typeof POINT_COLUMNS)[number];

/** A points table as read: one entry per row in each column it has, null where a row has no value; null for a column it lacks. */
export interface PointsTable {
  rows: number;
  label: (string | null)[] | null;
  text: (string | null)[] | null;
  /** Data URLs in the page; in the CLI also paths or URLs, which it reads. */
  image: (string | null)[] | null;
  /** Columns ignored, and the like: what the user should know. */
  notices: string[];
}

/** One row of a points table as written to JSONL. */
export type PointsRow = Partial<Record<PointColumn, string | null>>;

/** A cell as text; `where(row)` names its row, only in the message about one that is not. */
const cellText = (value: unknown, row: number, column: string, where: (row: number) => string): string | null => {
  if (value === null || value === undefined) return null;
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'bigint' || typeof value === 'boolean') return String(value);
  throw new PointsTableError(`${where(row)}: "${column}" must be a string, got ${Array.isArray(value) ? 'an array' : typeof value}.`);
};

function ignoredNotice(source: string, columns: string[]): string[] {
  return columns.length ? [`${source}: ignored column${columns.length === 1 ? '' : 's'} ${columns.map((c) => `"${c}"`).join(', ')} (a points table reads ${POINT_COLUMNS.join(', ')}).`] : [];
}

/** Columns of per-row values from rows of objects; every column any row names is kept. */
function fromRecords(records: Record<string, unknown>[], source: string, names: Set<string>, where: (row: number) => string): PointsTable {
  const column = (name: PointColumn) => (names.has(name) ? records.map((r, k) => cellText(r[name], k, name, where)) : null);
  return {
    rows: records.length,
    label: column('label'),
    text: column('text'),
    image: column('image'),
    notices: ignoredNotice(source, [...names].filter((n) => !(POINT_COLUMNS as readonly string[]).includes(n))),
  };
}

/** Reads a JSONL points table (blank lines skipped); a line that is not a JSON object is an error naming it. */
export function readPointsJsonl(text: string, source = 'points.jsonl'): PointsTable {
  const records: Record<string, unknown>[] = [];
  const lines: number[] = [];
  const names = new Set<string>();
  text.split(/\r?\n/).forEach((line, k) => {
    if (line.trim() === '') return;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (e) {
      throw new PointsTableError(`${source} line ${k + 1}: not JSON (${messageOf(e)}).`);
    }
    if (!value || typeof value !== 'object' || Array.isArray(value)) throw new PointsTableError(`${source} line ${k + 1}: expected a JSON object such as {"label": "cat", "text": "…"}.`);
    for (const name of Object.keys(value)) names.add(name);
    records.push(value as Record<string, unknown>);
    lines.push(k + 1);
  });
  return fromRecords(records, source, names, (row) => `${source} line ${lines[row]}`);
}

/** Writes rows as JSONL, one object a line (missing values left out). */
export function writePointsJsonl(rows: PointsRow[]): string {
  return rows.map((r) => JSON.stringify(Object.fromEntries(Object.entries(r).filter(([, v]) => v !== null && v !== undefined)))).join('\n') + (rows.length ? '\n' : '');
}

const PARQUET_MAGIC = 'PAR1';

/** Whether bytes start like a Parquet file ("PAR1"). */
export function isParquet(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && String.fromCharCode(...bytes.subarray(0, 4)) === PARQUET_MAGIC;
}

/** The bytes as an ArrayBuffer, which hyparquet reads: a view's own buffer where it spans all of it, else a copy. */
function arrayBufferOf(bytes: ArrayBuffer | Uint8Array): ArrayBuffer {
  if (!(bytes instanceof Uint8Array)) return bytes;
  const { buffer } = bytes;
  return buffer instanceof ArrayBuffer && bytes.byteOffset === 0 && bytes.byteLength === buffer.byteLength ? buffer : bytes.slice().buffer;
}

/** Reads a Parquet points table: its label, text and image columns (strings; numbers are written as text). */
export async function readPointsParquet(bytes: ArrayBuffer | Uint8Array, source = 'points.parquet'): Promise<PointsTable> {
  const buffer = arrayBufferOf(bytes);
  const head = new Uint8Array(buffer, 0, Math.min(4, buffer.byteLength));
  const tail = new Uint8Array(buffer, Math.max(0, buffer.byteLength - 4));
  if (!isParquet(head) || !isParquet(tail)) throw new PointsTableError(`${source} is not a Parquet file (it does not start and end with "PAR1"); expected a .parquet or a .jsonl points table.`);
  let metadata;
  try {
    metadata = parquetMetadata(buffer);
  } catch (e) {
    throw new PointsTableError(`${source}: the Parquet footer could not be read (${messageOf(e)}).`);
  }
  const names = new Set(parquetSchema(metadata).children.map((c) => c.element.name));
  const wanted = POINT_COLUMNS.filter((c) => names.has(c));
  const rows = Number(metadata.num_rows);
  const records: Record<string, unknown>[] = wanted.length
    ? await parquetReadObjects({ file: buffer, columns: [...wanted] })
    : Array.from({ length: rows }, () => ({}));
  if (records.length !== rows) throw new PointsTableError(`${source}: its footer says ${rows} rows, but ${records.length} were read.`);
  return fromRecords(records, source, names, (row) => `${source} row ${row}`);
}

/** Reads a points table by its name (.parquet, or .jsonl / .ndjson / .json lines) or, failing that, by its first bytes. */
export async function readPointsTable(bytes: Uint8Array, name: string): Promise<PointsTable> {
  const ext = /\.[^.]+$/.exec(name.toLowerCase())?.[0] ?? '';
  if (ext === '.parquet' || isParquet(bytes)) return readPointsParquet(bytes, name);
  if (ext === '.jsonl' || ext === '.ndjson' || ext === '.json') return readPointsJsonl(new TextDecoder().decode(bytes), name);
  throw new PointsTableError(`${name}: a points table is a .parquet or a .jsonl file (one JSON object a line).`);
}

/** Writes an input points table as Parquet: the columns given, strings, null where a row has none. */
export function writePointsTableParquet(columns: Partial<Record<PointColumn, (string | null)[]>>): ArrayBuffer {
  const given = POINT_COLUMNS.filter((c) => columns[c]);
  const lengths = new Set(given.map((c) => columns[c]!.length));
  if (lengths.size > 1) throw new PointsTableError(`The columns of a points table differ in length: ${given.map((c) => `${c} ${columns[c]!.length}`).join(', ')}.`);
  return parquetWriteBuffer({ columnData: given.map((name) => ({ name, data: columns[name]!, type: 'STRING' as const })) });
}

/** Throws unless the table has one row per activation row, saying what was expected. */
export function checkPointRows(table: PointsTable, expected: number, source: string, activations: string): void {
  if (table.rows !== expected) {
    throw new PointsTableError(
      `${source} has ${table.rows.toLocaleString('en')} row${table.rows === 1 ? '' : 's'}, but ${activations} has ${expected.toLocaleString('en')}: expected one row of the points table per activation row, in the same order.`,
    );
  }
}

/** Text tokens shown before the recorded one: what a causal model had read when it reached it. */
const CONTEXT_TOKENS = 16;

/** Digits the file keeps of a layout coordinate (assembleAtlas rounds to 1e-5). */
const LAYOUT_ROUNDING = 1e-5;

/**
 * The cells a stored coordinate may have been binned into: its own, and the neighbour across a cell boundary
 * that lies within the file's rounding of it (the grid was built from the unrounded layout).
 */
function cellsNear(v: number, g: number): number[] {
  const own = cellOf(v, g);
  const lower = cellOf(v - LAYOUT_ROUNDING, g);
  const upper = cellOf(v + LAYOUT_ROUNDING, g);
  return [own, ...(lower !== own ? [lower] : []), ...(upper !== own ? [upper] : [])];
}

/** An atlas's points as columns: the layout, the finest grid's cell, the input, position, label and text of each. */
export interface AtlasPointColumns {
  x: number[];
  y: number[];
  /** "i,j" of the point's cell at the finest grid level (column, row), null where that cell was dropped (min count). */
  cell: (string | null)[];
  input: number[];
  position: number[];
  label: (string | null)[];
  text: (string | null)[];
  /** The finest grid level's size, which `cell` indexes. */
  gridSize: number;
}

/** Each input's text as a point shows it: a text atlas's recorded token with the tokens before it, a precomputed row's text. */
function pointText(atlas: Atlas, input: number, position: number): string | null {
  if (atlas.modality === 'text') {
    const tokens = atlas.inputs.tokens[input];
    // Token 0 is <|endoftext|>, never text; a pooled point stands for its whole document.
    if (position < 0) return tokens.slice(1).join('');
    return tokens.slice(Math.max(1, position - CONTEXT_TOKENS), position + 1).join('');
  }
  if (atlas.modality === 'precomputed') return atlas.inputs.texts?.[input] ?? null;
  return null;
}

/** A float32 layout coordinate in [0, 1] as the double a reader expects (0.1, not 0.10000000149): 7 decimals, about float32's own precision there. */
const float32Decimal = (v: number) => Math.round(v * 1e7) / 1e7;

/** The points of an atlas as the columns of its points table. */
export function atlasPointColumns(atlas: Atlas): AtlasPointColumns {
  const finest = atlas.levels.reduce((a, b) => (b.size > a.size ? b : a));
  const g = finest.size;
  const kept = new Set(finest.cells.map((c) => c.j * g + c.i));
  const { input, position, layoutX, layoutY } = atlas.points;
  const cell = Array.from(layoutX, (x, p) => {
    for (const j of cellsNear(layoutY[p], g)) for (const i of cellsNear(x, g)) if (kept.has(j * g + i)) return `${i},${j}`;
    return null;
  });
  const labelOf = (i: number) => {
    const l = atlas.inputs.label[i] >= 0 ? atlas.inputs.label[i] : atlas.inputs.predicted[i];
    return l >= 0 ? (atlas.labelNames[l] ?? null) : null;
  };
  return {
    x: Array.from(layoutX, float32Decimal),
    y: Array.from(layoutY, float32Decimal),
    cell,
    input: Array.from(input),
    position: Array.from(position),
    label: Array.from(input, labelOf),
    text: Array.from(input, (i, p) => pointText(atlas, i, position[p])),
    gridSize: g,
  };
}

/** An atlas's points as a Parquet file (x, y, cell, input, position, label, text) that pandas and Embedding Atlas open. */
export function writeAtlasPointsParquet(atlas: Atlas): ArrayBuffer {
  const c = atlasPointColumns(atlas);
  return parquetWriteBuffer({
    columnData: [
      { name: 'x', data: c.x, type: 'DOUBLE', nullable: false },
      { name: 'y', data: c.y, type: 'DOUBLE', nullable: false },
      { name: 'cell', data: c.cell, type: 'STRING' },
      { name: 'input', data: c.input, type: 'INT32', nullable: false },
      { name: 'position', data: c.position, type: 'INT32', nullable: false },
      { name: 'label', data: c.label, type: 'STRING' },
      { name: 'text', data: c.text, type: 'STRING' },
    ],
    kvMetadata: [
      {
        key: 'activation-atlas',
        value: JSON.stringify({ model: atlas.model.name, layer: atlas.layer.name, modality: atlas.modality, cellGridSize: c.gridSize, cell: 'i,j: column,row of the finest grid level' }),
      },
    ],
  });
}
