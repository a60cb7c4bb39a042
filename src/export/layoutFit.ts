import type { LayoutFit } from '../compute/scaleLayout';
import { base64ToBytes, bytesToBase64 } from '../lib/base64';

/**
 * A fitted layout as a file (`--fit-out layout.json`): what a shard needs to place its own rows where the
 * merge's layout puts them (`--fit layout.json`). JSON, with every typed array as base64 of its little-endian
 * bytes tagged with its type; read back, every array is checked against the shapes the placement indexes by.
 */
export const LAYOUT_FIT_FORMAT = 'activation-atlas-layout-fit';
export const LAYOUT_FIT_VERSION = 1;

export class LayoutFitError extends Error {
  override name = 'LayoutFitError';
}

const TYPED = { Float32Array, Float64Array, Int32Array } as const;
type TypedName = keyof typeof TYPED;

/** A typed array as stored. */
interface TaggedArray {
  $typed: TypedName;
  base64: string;
}

function encode(value: unknown): unknown {
  if (ArrayBuffer.isView(value)) {
    const name = value.constructor.name as TypedName;
    if (!(name in TYPED)) throw new Error(`layout fit: cannot store a ${name}`);
    return { $typed: name, base64: bytesToBase64(new Uint8Array(value.buffer, value.byteOffset, value.byteLength)) } satisfies TaggedArray;
  }
  if (Array.isArray(value)) return value.map(encode);
  if (value !== null && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, encode(v)]));
  return value;
}

function decode(value: unknown, path: string): unknown {
  if (Array.isArray(value)) return value.map((v, k) => decode(v, `${path}[${k}]`));
  if (value === null || typeof value !== 'object') return value;
  const tagged = value as Partial<TaggedArray>;
  if (typeof tagged.$typed === 'string') {
    const Type = TYPED[tagged.$typed as TypedName];
    if (!Type || typeof tagged.base64 !== 'string') throw new LayoutFitError(`Layout fit: ${path} is not a stored array.`);
    const bytes = base64ToBytes(tagged.base64);
    if (bytes.length % Type.BYTES_PER_ELEMENT !== 0) throw new LayoutFitError(`Layout fit: ${path} has ${bytes.length} bytes, not whole ${tagged.$typed} values.`);
    return new Type(bytes.buffer);
  }
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, decode(v, path ? `${path}.${k}` : k)]));
}

/** The fit as the file's text. */
export function serializeLayoutFit(fit: LayoutFit): string {
  return JSON.stringify({ format: LAYOUT_FIT_FORMAT, version: LAYOUT_FIT_VERSION, fit: encode(fit) });
}

/** Reads a fit file; every problem is a LayoutFitError naming the field. */
export function parseLayoutFit(text: string): LayoutFit {
  let raw: { format?: unknown; version?: unknown; fit?: unknown };
  try {
    raw = JSON.parse(text) as typeof raw;
  } catch (e) {
    throw new LayoutFitError(`Layout fit: not JSON (${(e as Error).message}).`);
  }
  if (raw?.format !== LAYOUT_FIT_FORMAT) throw new LayoutFitError(`Not a layout fit: "format" is ${JSON.stringify(raw?.format)}, expected "${LAYOUT_FIT_FORMAT}".`);
  if (raw.version !== LAYOUT_FIT_VERSION) throw new LayoutFitError(`Layout fit version ${JSON.stringify(raw.version)} is not one this app reads (${LAYOUT_FIT_VERSION}).`);
  const fit = decode(raw.fit, '') as LayoutFit;
  checkFit(fit);
  return fit;
}

/** The shapes the placement relies on: every index it reads stays inside its array. */
function checkFit(fit: LayoutFit): void {
  const fail = (what: string) => {
    throw new LayoutFitError(`Layout fit: ${what}.`);
  };
  const isArray = (a: unknown, Type: (typeof TYPED)[TypedName]) => a instanceof Type;
  const int = (v: unknown) => Number.isInteger(v) && (v as number) >= 0;
  if (!fit || typeof fit !== 'object') fail('no fit');
  if (!int(fit.dim) || fit.dim < 1) fail('"dim" is not a positive integer');
  if (!fit.frame || !Array.isArray(fit.frame.lo) || !Array.isArray(fit.frame.hi) || typeof fit.frame.margin !== 'number') fail('"frame" is malformed');
  const f = fit.fitted;
  if (!f || (f.kind !== 'umap' && f.kind !== 'tsne')) fail('"fitted.kind" is neither umap nor tsne');
  const x = f.index;
  if (!x || !int(x.n) || !int(x.d) || x.n < 1 || x.d < 1) fail('"fitted.index" has no row count or width');
  const { n, d } = x;
  if (!isArray(x.data, Float32Array) || x.data.length !== n * d) fail(`"fitted.index.data" is not ${n} x ${d} float32`);
  const nodes = x.offsets?.length ?? -1;
  if (!isArray(x.offsets, Float32Array) || !isArray(x.normals, Float32Array) || x.normals.length !== nodes * d) fail('the search tree\'s hyperplanes are malformed');
  if (!isArray(x.children, Int32Array) || x.children.length !== 2 * nodes) fail('the search tree\'s children are malformed');
  const leaves = (x.leafStart?.length ?? 0) - 1;
  if (!isArray(x.leafStart, Int32Array) || leaves < 1 || x.leafStart[leaves] !== n || !isArray(x.leafRows, Int32Array) || x.leafRows.length !== n) fail('the search tree\'s leaves are malformed');
  for (const c of x.children) if (c >= nodes || ~c >= leaves) fail('a search tree child points outside the tree');
  for (let l = 0; l < leaves; l++) if (x.leafStart[l] > x.leafStart[l + 1] || x.leafStart[l] < 0) fail('the search tree\'s leaf bounds are not increasing');
  if (!isArray(x.graphStart, Int32Array) || x.graphStart.length !== n + 1 || !isArray(x.graphRows, Int32Array) || x.graphStart[n] !== x.graphRows.length) fail('the search graph is malformed');
  for (let i = 0; i < n; i++) if (x.graphStart[i] > x.graphStart[i + 1] || x.graphStart[i] < 0) fail('the search graph\'s row bounds are not increasing');
  for (const rows of [x.leafRows, x.graphRows]) for (const r of rows) if (r < 0 || r >= n) fail('a search row points outside the fitted rows');
  if (!isArray(f.embedding, Float32Array) || f.embedding.length !== 2 * n) fail(`"fitted.embedding" is not ${n} x 2 float32`);
  if (!int(f.neighbours) || f.neighbours < 1 || f.neighbours > n) fail('"fitted.neighbours" is out of range');
  if (f.kind === 'tsne') {
    const g = f.field?.g;
    if (!int(g) || g < 2 || ![f.field.z, f.field.fx, f.field.fy].every((a) => isArray(a, Float64Array) && a.length === g * g)) fail('the t-SNE repulsion field is malformed');
  }
  const width = fit.pca ? fit.pca.k : fit.dim;
  if (fit.pca && (fit.pca.d !== fit.dim || !isArray(fit.pca.mean, Float64Array) || fit.pca.mean.length !== fit.dim || !isArray(fit.pca.components, Float64Array) || fit.pca.components.length !== fit.dim * fit.pca.k)) {
    fail('the PCA basis does not match the rows\' width');
  }
  if (width !== d) fail(`rows reach the search ${width} wide but the index holds ${d}-wide rows`);
}
