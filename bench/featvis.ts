/**
 * Feature-visualisation benchmark (npm run bench:featvis). For the default model and the MobileNet fixture:
 * builds a coarse atlas in Node, visualises a seeded sample of its cells, and prints the time per icon on
 * each backend that can do it, and how often a cell's icon scores higher on the cell's own objective than
 * the best dataset example in that cell (its members re-recorded at their positions and scored by the same
 * code). Writes bench/out/featvis-<model>.png: every sampled icon beside that best example, for a person.
 *
 * Flags: --models default,mobilenet  --cells N  --steps N  --cpu-steps N  --grid N  --tries N
 */
import { gridPosition } from '../src/renderers/patch';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import sharp, { type OverlayOptions } from 'sharp';
import * as tf from '@tensorflow/tfjs';
import { buildAtlasInNode, loadModelForCli } from '../src/cli/buildAtlas';
import { folderProvider } from '../src/cli/nodeIo';
import { cellOf } from '../src/compute/grid';
import type { AtlasCell } from '../src/compute/types';
import type { Atlas } from '../src/compute/atlas';
import type { ImageModel } from '../src/model/image/imageModel';
import { matchChannels, prepareImage, type RawImage } from '../src/model/image/preprocess';
import { recordActivations, type ImageProvider } from '../src/model/image/recordImages';
import { createRng } from '../src/lib/rng';
import { chooseFeatureVisBackend, gradientSupport } from '../src/featureVis/backendSupport';
import { objectiveTargets, scoreImages } from '../src/featureVis/objective';
import { visualiseDirections, type VisualiseOptions } from '../src/featureVis/optimise';
import { colourBasisFromImages } from '../src/featureVis/parameterisation';
import { whiteningMatrix } from '../src/featureVis/whitening';

const FIXTURES = new URL('../../shared/fixtures/', import.meta.url).pathname;
const OUT = new URL('./out/', import.meta.url).pathname;

interface BenchConfig {
  key: string;
  model: string;
  images?: string;
  labels?: string;
  samplesPerImage: number;
  grid: number;
  cells: number;
  steps: number;
  /** Side of the optimised icon; the model's input size when absent. */
  size?: number;
  batchSize: number;
  /** Steps timed on cpu, extrapolated to `steps` (cpu is ~30x slower than wasm). */
  cpuSteps: number;
}

const CONFIGS: BenchConfig[] = [
  { key: 'default', model: 'default', samplesPerImage: 4, grid: 20, cells: 24, steps: 256, batchSize: 24, cpuSteps: 8 },
  {
    key: 'mobilenet',
    model: join(FIXTURES, 'models/mobilenet_v1_025_224'),
    images: join(FIXTURES, 'images/imagenet-val-300'),
    labels: join(FIXTURES, 'models/mobilenet_v1_025_224/synset_words.txt'),
    samplesPerImage: 4,
    grid: 20,
    cells: 16,
    steps: 256,
    size: 96,
    batchSize: 16,
    cpuSteps: 1,
  },
];

const { values: flags } = parseArgs({
  options: {
    models: { type: 'string', default: 'default,mobilenet' },
    cells: { type: 'string' },
    steps: { type: 'string' },
    'cpu-steps': { type: 'string' },
    grid: { type: 'string' },
    tries: { type: 'string', default: '1' },
  },
});

interface Row {
  model: string;
  layer: string;
  dim: number;
  icon: string;
  steps: number;
  backend: string;
  msPerIcon: number;
  note: string;
  wins?: string;
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const median = (v: ArrayLike<number>) => {
  const s = Array.from(v).sort((a, b) => a - b);
  return s.length ? (s[(s.length - 1) >> 1] + s[s.length >> 1]) / 2 : NaN;
};

async function providerFor(config: BenchConfig): Promise<ImageProvider> {
  if (config.images) return folderProvider(config.images);
  const [{ sampleProvider }, { loadSampleFromDisk }] = await Promise.all([import('../src/model/image/providers'), import('../src/model/image/sampleNode')]);
  return sampleProvider(await loadSampleFromDisk());
}

/** Rows of each sampled cell, from the atlas's normalised layout (as the grid binned them). */
function cellRows(atlas: Atlas, g: number): Map<string, number[]> {
  const rows = new Map<string, number[]>();
  atlas.points.layoutX.forEach((x, r) => {
    const key = `${cellOf(x, g)}:${cellOf(atlas.points.layoutY[r], g)}`;
    rows.set(key, [...(rows.get(key) ?? []), r]);
  });
  return rows;
}

/** Seeded sample of the cells with at least `minCount` members: an honest sample, not the best ones. */
function sampleCells(cells: AtlasCell[], count: number, seed: number, minCount = 3): AtlasCell[] {
  const pool = cells.filter((c) => c.count >= minCount);
  const random = createRng(seed);
  for (let i = 0; i < Math.min(count, pool.length); i++) {
    const j = i + Math.floor(random() * (pool.length - i));
    [pool[i], pool[j]] = [pool[j], pool[i]];
  }
  return pool.slice(0, count);
}

/** The model's view of one input in [0, 1] (H x W x C floats) and as bytes for the sheet. */
function unitPixels(model: ImageModel, raw: RawImage): { unit: Float32Array; display: RawImage } {
  const size = { height: model.inputHeight, width: model.inputWidth, channels: model.inputChannels };
  const { input, pixels } = prepareImage(raw, size, model.preprocessing);
  try {
    const unit = tf.tidy(() => matchChannels(pixels, model.inputChannels).div(255).dataSync() as Float32Array);
    const bytes = tf.tidy(() => pixels.round().clipByValue(0, 255).dataSync());
    return { unit, display: { width: size.width, height: size.height, channels: pixels.shape[2] as 1 | 3, data: Uint8Array.from(bytes) } };
  } finally {
    tf.dispose([input, pixels]);
  }
}

async function runModel(config: BenchConfig): Promise<Row[]> {
  const g = Number(flags.grid ?? config.grid);
  const k = Number(flags.cells ?? config.cells);
  const steps = Number(flags.steps ?? config.steps);
  const cpuSteps = Number(flags['cpu-steps'] ?? config.cpuSteps);
  const tries = Number(flags.tries);
  const t0 = performance.now();
  const { atlas } = await buildAtlasInNode({ model: config.model, images: config.images, labels: config.labels, params: { samplesPerInput: config.samplesPerImage, gridSizes: [g], seed: 0 } });
  const layer = atlas.layer.name;
  const dim = atlas.layer.dim;
  console.log(`\n${atlas.model.name}: atlas of ${atlas.points.input.length} activations of ${layer} (${atlas.layer.shape.join('x')}) in ${seconds(performance.now() - t0)}`);

  const model = await loadModelForCli(config.model, { labels: config.labels });
  const provider = await providerFor(config);
  try {
    // The atlas does not keep activations: record the same table again (same seed) for whitening.
    const { table } = await recordActivations(model, provider, { layer, samplesPerInput: config.samplesPerImage, seed: 0 });
    if (table.count !== atlas.points.input.length) throw new Error(`re-recorded ${table.count} rows, the atlas has ${atlas.points.input.length}`);
    const whitening = whiteningMatrix(table);
    const providerIndex = new Map(Array.from({ length: provider.count }, (_, i) => [provider.name(i), i]));
    const raws = new Map<number, RawImage>();
    const rawOf = async (input: number) => {
      if (!raws.has(input)) raws.set(input, await provider.load(providerIndex.get(atlas.inputs.names[input])!));
      return raws.get(input)!;
    };
    let colourBasis: Float32Array | undefined;
    if (model.inputChannels === 3) {
      const sample = await Promise.all(Array.from({ length: Math.min(64, atlas.inputs.names.length) }, (_, i) => rawOf(i)));
      colourBasis = colourBasisFromImages(sample);
    }

    const level = atlas.levels.find((l) => l.size === g)!;
    const cells = sampleCells(level.cells, k, 0);
    const members = cellRows(atlas, g);
    const directions = new Float32Array(cells.length * dim);
    cells.forEach((c, i) => directions.set(c.mean, i * dim));
    console.log(`grid ${g}: ${level.cells.length} cells, ${level.cells.filter((c) => c.count >= 3).length} with >= 3 members; visualising a seeded sample of ${cells.length}`);

    const choice = await chooseFeatureVisBackend(model, layer, { size: config.size });
    console.log(choice.message);
    if (!choice.backend) return [{ model: atlas.model.name, layer, dim, icon: '-', steps, backend: 'none', msPerIcon: NaN, note: choice.message }];

    const options: VisualiseOptions = { steps, tries, seed: 0, whitening, colourBasis, size: config.size, batchSize: config.batchSize, cossimPower: 2 };
    const rows: Row[] = [];
    await tf.setBackend(choice.backend);
    let lastLog = 0;
    const t1 = performance.now();
    const result = await visualiseDirections(model, layer, directions, {
      ...options,
      onProgress: ({ done, total }) => {
        if (performance.now() - lastLog > 30_000) {
          lastLog = performance.now();
          console.log(`  ${choice.backend}: step ${done}/${total}, ${seconds(performance.now() - t1)}`);
        }
      },
    });
    const msPerIcon = (performance.now() - t1) / cells.length;

    // Dataset side: every member of every sampled cell, re-recorded at its position, same objective.
    const memberRows = cells.map((c) => members.get(`${c.i}:${c.j}`) ?? []);
    const mismatched = cells.filter((c, i) => memberRows[i].length !== c.count).length;
    const flat = memberRows.flatMap((rs, ci) => rs.map((r) => ({ r, ci })));
    const area = model.inputHeight * model.inputWidth * model.inputChannels;
    const pixels = new Float32Array(flat.length * area);
    const memberDirections = new Float32Array(flat.length * dim);
    const displays: RawImage[] = [];
    for (let m = 0; m < flat.length; m++) {
      const { unit, display } = unitPixels(model, await rawOf(table.input[flat[m].r]));
      pixels.set(unit, m * area);
      displays.push(display);
      memberDirections.set(cells[flat[m].ci].mean, m * dim);
    }
    const exampleScores = await scoreImages(model, layer, pixels, memberDirections, {
      whitening,
      cossimPower: 2,
      site: { x: flat.map((f) => gridPosition(table.position[f.r], table.positionShape).x), y: flat.map((f) => gridPosition(table.position[f.r], table.positionShape).y) },
    });
    // The same objective straight from the recorded rows: a check that re-recording matches.
    const targets = objectiveTargets(memberDirections, dim, whitening);
    let worstRelative = 0;
    flat.forEach(({ r }, m) => {
      let dot = 0;
      let cos = 0;
      let norm = 0;
      for (let d = 0; d < dim; d++) {
        const h = table.values[r * dim + d];
        dot += h * targets.whitened[m * dim + d];
        cos += h * targets.unit[m * dim + d];
        norm += h * h;
      }
      const fromTable = dot * Math.max(0.1, cos / Math.sqrt(norm + 1e-8)) ** 2;
      worstRelative = Math.max(worstRelative, Math.abs(fromTable - exampleScores[m]) / Math.max(1e-6, Math.abs(fromTable)));
    });
    const best = cells.map(() => ({ score: -Infinity, m: -1 }));
    flat.forEach(({ ci }, m) => {
      if (exampleScores[m] > best[ci].score) best[ci] = { score: exampleScores[m], m };
    });
    const wins = cells.filter((_, i) => result.scores[i] > best[i].score).length;
    const ratios = cells.map((_, i) => result.scores[i] / best[i].score);
    console.log(
      `icons beat the best dataset example in ${wins}/${cells.length} cells (${((100 * wins) / cells.length).toFixed(0)}%); ` +
        `median icon score ${median(result.scores).toFixed(2)}, median best example ${median(best.map((b) => b.score)).toFixed(2)}, median ratio ${median(ratios).toFixed(2)}; ` +
        `${flat.length} members re-recorded (largest relative difference from the recorded rows ${worstRelative.toExponential(1)}${mismatched ? `; ${mismatched} cells' member counts differ after rounding the layout` : ''})`,
    );
    const icon = `${result.width}px`;
    rows.push({ model: atlas.model.name, layer, dim, icon, steps, backend: choice.backend, msPerIcon, note: `batch ${Math.min(cells.length, config.batchSize)}, tries ${tries}`, wins: `${wins}/${cells.length} (${((100 * wins) / cells.length).toFixed(0)}%)` });

    // cpu timing (a few steps of one batch, extrapolated): cpu only runs what wasm cannot, here or in a browser.
    if (choice.backend !== 'cpu') {
      const cpu = await gradientSupport(model, layer, 'cpu', { size: config.size });
      if (cpu.ok) {
        const n = Math.min(cells.length, config.batchSize);
        await tf.setBackend('cpu');
        const t2 = performance.now();
        await visualiseDirections(model, layer, directions.subarray(0, n * dim), { ...options, steps: cpuSteps, tries: 1 });
        const ms = ((performance.now() - t2) / n) * (steps / cpuSteps);
        rows.push({ model: atlas.model.name, layer, dim, icon, steps, backend: 'cpu', msPerIcon: ms, note: `batch ${n}, extrapolated from ${cpuSteps} step${cpuSteps > 1 ? 's' : ''}` });
        await tf.setBackend(choice.backend);
      } else rows.push({ model: atlas.model.name, layer, dim, icon, steps, backend: 'cpu', msPerIcon: NaN, note: cpu.error ?? 'no gradient' });
    }

    await saveSheet(config.key, atlas, cells, result, best.map((b) => ({ score: b.score, display: displays[b.m], ...gridPosition(table.position[flat[b.m].r], table.positionShape) })), memberRows, {
      wins,
      steps,
      backend: choice.backend,
    });
    return rows;
  } finally {
    model.dispose();
  }
}

const TILE = 112;

/** One PNG: for each sampled cell, its icon beside its best dataset example (box: the recorded position). */
async function saveSheet(
  key: string,
  atlas: Atlas,
  cells: AtlasCell[],
  result: { images: Uint8ClampedArray[]; width: number; height: number; scores: Float32Array },
  best: { score: number; display: RawImage; x: number; y: number }[],
  memberRows: number[][],
  info: { wins: number; steps: number; backend: string },
): Promise<void> {
  const columns = 4;
  const cellW = 2 * TILE + 24;
  const cellH = TILE + 36;
  const header = 44;
  const width = columns * cellW;
  const height = header + Math.ceil(cells.length / columns) * cellH;
  const layers: OverlayOptions[] = [];
  const escape = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  let svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">`;
  svg += `<text x="8" y="18" font-family="sans-serif" font-size="14" font-weight="bold">${escape(atlas.model.name)} · ${escape(atlas.layer.name.split("/").slice(-2).join("/"))} · ${info.steps} steps on ${info.backend}</text>`;
  svg += `<text x="8" y="36" font-family="sans-serif" font-size="12">Left: feature visualisation of the cell's mean (objective at the centre). Right: the cell's best dataset example (box: its position). ${info.wins}/${cells.length} icons score higher.</text>`;
  for (let c = 0; c < cells.length; c++) {
    const left = (c % columns) * cellW + 8;
    const top = header + Math.floor(c / columns) * cellH;
    const iconPng = await sharp(Buffer.from(result.images[c]), { raw: { width: result.width, height: result.height, channels: 4 } })
      .resize(TILE, TILE, { kernel: result.width < TILE / 2 ? 'nearest' : 'lanczos3' })
      .png()
      .toBuffer();
    const ex = best[c].display;
    const examplePng = await sharp(Buffer.from(ex.data), { raw: { width: ex.width, height: ex.height, channels: ex.channels } })
      .resize(TILE, TILE, { kernel: ex.width < TILE / 2 ? 'nearest' : 'lanczos3' })
      .png()
      .toBuffer();
    layers.push({ input: iconPng, left, top }, { input: examplePng, left: left + TILE + 6, top });
    const win = result.scores[c] > best[c].score;
    svg += `<text x="${left}" y="${top + TILE + 14}" font-family="sans-serif" font-size="11" fill="${win ? '#060' : '#a00'}">cell ${cells[c].i},${cells[c].j} (n=${memberRows[c].length}): icon ${result.scores[c].toFixed(2)} ${win ? '&gt;' : '&lt;='} best ${best[c].score.toFixed(2)}</text>`;
    if (best[c].x >= 0) {
      const [gh, gw] = atlas.layer.positionShape;
      svg += `<rect x="${left + TILE + 6 + (best[c].x / gw) * TILE}" y="${top + (best[c].y / gh) * TILE}" width="${TILE / gw}" height="${TILE / gh}" fill="none" stroke="red" stroke-width="1.5"/>`;
    }
  }
  svg += '</svg>';
  const path = join(OUT, `featvis-${key}.png`);
  await sharp({ create: { width, height, channels: 3, background: '#ffffff' } })
    .composite([...layers, { input: Buffer.from(svg), left: 0, top: 0 }])
    .png()
    .toFile(path);
  console.log(`sheet: ${path}`);
}

async function main() {
  await mkdir(OUT, { recursive: true });
  const wanted = flags.models!.split(',');
  const rows: Row[] = [];
  const start = performance.now();
  for (const config of CONFIGS.filter((c) => wanted.includes(c.key))) {
    if (config.images && !existsSync(config.images)) {
      console.log(`\n${config.key}: skipped, ${config.images} is absent (../shared/fixtures)`);
      continue;
    }
    try {
      rows.push(...(await runModel(config)));
    } catch (e) {
      console.error(`${config.key}: ${(e as Error).message}`);
      rows.push({ model: config.key, layer: '-', dim: 0, icon: '-', steps: 0, backend: '-', msPerIcon: NaN, note: `failed: ${(e as Error).message}` });
    }
  }
  console.log(`\nFeature visualisation (load average ${loadavg()[0].toFixed(1)} on ${cpus().length} cores; total ${seconds(performance.now() - start)})`);
  const header = ['model', 'layer', 'D', 'icon', 'steps', 'backend', 'time per icon', 'icon > best example', 'notes'];
  const table = rows.map((r) => [r.model, r.layer.replace(/^.*\/(Conv2d_\d+_\w+)\/.*$/, '$1'), String(r.dim), r.icon, String(r.steps), r.backend, Number.isFinite(r.msPerIcon) ? seconds(r.msPerIcon) : '-', r.wins ?? '', r.note]);
  const widths = header.map((h, i) => Math.max(h.length, ...table.map((t) => t[i].length)));
  for (const line of [header, ...table]) console.log(line.map((v, i) => v.padEnd(widths[i])).join('  '));
}

await main();
