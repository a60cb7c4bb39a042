/**
 * Checks an atlas's unit rankings against a brute-force scan of the activations it saved: for every unit, the
 * top rows of `units.top` must be exactly the k largest values of that unit's column in the .npy (ties broken by
 * the lower input, then the lower position), and count, mean, min and max must match the column.
 *
 *   npm run atlas -- --text corpus.txt --layer h.2.mlp.act --save-activations acts.npy --out atlas.json
 *   node --import tsx scripts/check-unit-top.ts atlas.json acts.npy
 *
 * The .npy is read whole (rows x dim x 4 bytes): this is a check, not the recorder.
 */
import { readFileSync } from 'node:fs';
import { parseAtlas } from '../src/export/atlasFile';

function readNpy(path: string, descr: '<f4' | '<i4'): { rows: number; width: number; data: ArrayBuffer } {
  const file = readFileSync(path);
  const headerLength = file.readUInt16LE(8);
  const header = file.subarray(10, 10 + headerLength).toString('latin1');
  if (!header.includes(`'descr': '${descr}'`)) throw new Error(`${path}: expected ${descr}, got ${header.trim()}`);
  const [rows, width] = /'shape': \((\d+), (\d+)\)/.exec(header)!.slice(1).map(Number);
  const start = 10 + headerLength;
  return { rows, width, data: file.buffer.slice(file.byteOffset + start, file.byteOffset + start + rows * width * 4) };
}

const [atlasPath, npyPath] = process.argv.slice(2);
if (!atlasPath || !npyPath) throw new Error('usage: check-unit-top.ts atlas.json acts.npy');
const started = performance.now();
const atlas = parseAtlas(readFileSync(atlasPath, 'utf8'));
const units = atlas.units;
if (!units) throw new Error(`${atlasPath} has no units`);
const acts = readNpy(npyPath, '<f4');
const places = new Int32Array(readNpy(npyPath.replace(/(\.npy)?$/, '.rows.npy'), '<i4').data);
const x = new Float32Array(acts.data);
const { rows, width: dim } = acts;
if (rows !== units.rows) throw new Error(`the .npy holds ${rows} rows, the atlas's units cover ${units.rows}`);
const column = new Float32Array(rows);
let checked = 0;
let worstMean = 0;
for (let u = 0; u < dim; u++) {
  let sum = 0;
  let min = Infinity;
  let max = -Infinity;
  for (let r = 0; r < rows; r++) {
    const v = x[r * dim + u];
    column[r] = v;
    sum += v;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  const k = units.top[u].length;
  // The k-th largest value, then every row at or above it, ordered as the recorder orders ties.
  const threshold = Float32Array.from(column).sort()[rows - k];
  const brute: [number, number, number][] = [];
  for (let r = 0; r < rows; r++) if (column[r] >= threshold) brute.push([places[2 * r], places[2 * r + 1], column[r]]);
  brute.sort((a, b) => b[2] - a[2] || a[0] - b[0] || a[1] - b[1]);
  const expected = JSON.stringify(brute.slice(0, k));
  if (JSON.stringify(units.top[u]) !== expected) throw new Error(`unit ${u}: top rows ${JSON.stringify(units.top[u])} differ from the scan's ${expected}`);
  if (units.min[u] !== min || units.max[u] !== max) throw new Error(`unit ${u}: min/max ${units.min[u]}/${units.max[u]} against ${min}/${max}`);
  if (units.count[u] !== rows) throw new Error(`unit ${u}: count ${units.count[u]} against ${rows}`);
  worstMean = Math.max(worstMean, Math.abs(units.mean[u] - sum / rows) / Math.max(1e-12, Math.abs(sum / rows)));
  checked++;
}
if (worstMean > 1e-5) throw new Error(`a unit's mean is off by ${worstMean} (relative)`);
process.stdout.write(
  `ok: ${checked} units x top ${units.top[0].length} over ${rows.toLocaleString('en')} rows equal the brute-force scan; ` +
    `means within ${worstMean.toExponential(1)} (relative); ${((performance.now() - started) / 1000).toFixed(1)} s\n`,
);
