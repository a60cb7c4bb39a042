/**
 * Atlas file size and open time, version 2 (every column a JSON array) against version 3 (point columns, and the
 * inputs' numeric columns from 1,024 inputs, as base64 little-endian typed arrays), for seeded mixture atlases of
 * 100 k and 1 M points (one input per point, as a precomputed atlas has; tests/e2e/millionAtlas.ts).
 * Usage: npm run bench:atlas-file [-- --sizes 100000,1000000 --repeats 3]
 *
 * "open" is parseAtlas: JSON.parse, validation, base64 decoding and every reference check, what the page's
 * atlas-file worker does (best of `repeats`, in this Node process). "raw" is what a binary sidecar (Parquet,
 * Arrow) could save at most: the point columns' bytes without base64, and the time base64 decoding takes in the
 * version-3 open.
 */
import { ATLAS_VERSION, atlasToJson, parseAtlas } from '../src/export/atlasFile';
import { base64ToBytes } from '../src/lib/base64';
import { mixtureAtlas } from '../tests/e2e/millionAtlas';
import { parseArgs, printTable } from './lib';

const args = parseArgs(process.argv.slice(2));
const sizes = (args.get('sizes') ?? '100000,1000000').split(',').map(Number);
const repeats = Number(args.get('repeats') ?? 3);

/** A version-3 file's JSON written as version 2 would have been: every point and input column a JSON array. */
function asVersion2(json: ReturnType<typeof atlasToJson>): unknown {
  const decode = <T>(text: string | number[], Type: new (buffer: ArrayBuffer) => ArrayLike<number> & Iterable<T>) =>
    typeof text === 'string' ? Array.from(new Type(base64ToBytes(text).buffer)) : text;
  const { count: _, input, layoutX, layoutY, totalBeforeSampling, ...position } = json.points as typeof json.points & { position?: string; token?: string };
  const [positionKey, positionColumn] = Object.entries(position)[0] as [string, string];
  return {
    ...json,
    version: 2,
    inputs: {
      ...json.inputs,
      label: decode(json.inputs.label, Int32Array),
      predicted: decode(json.inputs.predicted, Int32Array),
      probability: decode(json.inputs.probability, Float32Array).map((p) => Math.round(Number(p) * 1e4) / 1e4),
    },
    points: {
      input: decode(input, Uint32Array),
      [positionKey]: decode(positionColumn, Int32Array),
      layoutX: decode(layoutX, Float32Array).map((x) => Math.round(Number(x) * 1e5) / 1e5),
      layoutY: decode(layoutY, Float32Array).map((y) => Math.round(Number(y) * 1e5) / 1e5),
      totalBeforeSampling,
    },
  };
}

/** The best of `repeats` runs of `run`, in milliseconds. */
function best(run: () => unknown): number {
  let fastest = Infinity;
  for (let k = 0; k < repeats; k++) {
    const started = performance.now();
    run();
    fastest = Math.min(fastest, performance.now() - started);
  }
  return fastest;
}

const mb = (bytes: number) => (bytes / 1e6).toFixed(1);
const rows: string[][] = [];
for (const n of sizes) {
  const atlas = mixtureAtlas(n);
  const v3 = atlasToJson(atlas);
  const texts = { 2: JSON.stringify(asVersion2(v3)), [ATLAS_VERSION]: JSON.stringify(v3) };
  const pointColumns = [v3.points.input, v3.points.layoutX, v3.points.layoutY, 'position' in v3.points ? v3.points.position : v3.points.token];
  for (const [version, text] of Object.entries(texts)) {
    const opened = parseAtlas(text);
    if (opened.points.input.length !== n) throw new Error(`version ${version} opened ${opened.points.input.length} points of ${n}`);
    const parse = best(() => JSON.parse(text));
    const open = best(() => parseAtlas(text));
    const pointBytes = opened.points.input.byteLength * 4;
    const raw = Number(version) === 3 ? `${mb(pointBytes)} MB; base64 decode ${best(() => pointColumns.forEach((c) => base64ToBytes(c))).toFixed(0)} ms` : '';
    rows.push([n.toLocaleString('en'), `v${version}`, mb(text.length), parse.toFixed(0), open.toFixed(0), raw]);
    console.error(`${n} points, version ${version}: ${mb(text.length)} MB, open ${open.toFixed(0)} ms`);
  }
}
console.log(`atlas files (${repeats} runs each, best), node ${process.version}`);
printTable(['points', 'format', 'file MB', 'JSON.parse ms', 'open ms', 'point columns raw (sidecar)'], rows, (c) => c >= 2 && c <= 4);
