/**
 * Feature-visualisation benchmark (npm run bench:featvis). For the default model and the MobileNet fixture:
 * builds a coarse atlas in Node, visualises a seeded sample of its cells with each recipe asked for, and prints
 * per recipe: the time per icon, how often a cell's icon scores higher on the cell's own objective than the best
 * dataset example in that cell (its members re-recorded at their positions and scored by the same code), how
 * often the model recognises the icon (the class it most often gives the cell's members is in its top 5 for the
 * icon), and the icons' contrast and colourfulness against crops of the dataset's own images (issue 21). The
 * best examples' crops are measured the same way, as the reference. Writes bench/out/featvis-<model>.png: a row
 * per cell, a column per recipe and the best exemplar's crop last, for a person.
 *
 * Flags: --models default,mobilenet  --recipes current,lr-0.1,...  --cells N  --steps N  --cpu-steps N (0: no cpu row)
 *        --grid N  --tries N  --offset N (skip the seeded sample's first N cells: a tuning set disjoint from them) */
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
import { quartiles, stretchContrast } from '../src/featureVis/iconMeasures';
import { ICON_QUALITIES, iconRecipe, type IconQuality } from '../src/featureVis/recipe';
import { cropSquare, fromRgba, looks, scoreIcons, topClasses, toRgba, withinQuartiles, type UnitImage } from './featvisMeasures';
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
    recipes: { type: 'string', default: 'current' },
    offset: { type: 'string', default: '0' },
  },
});

/** A feature-visualisation recipe under study (issue 21): options changed from today's, and an optional final contrast stretch. */
interface Recipe {
  options: Partial<VisualiseOptions>;
  /** false: optimise the plain direction, without the recorded activations' whitening. */
  whiten?: boolean;
  /** Fraction of pixel values clipped at each end by a final contrast stretch (see stretchContrast). */
  stretch?: number;
}

const RECIPES: Record<string, Recipe> = {
  current: { options: {} },
  'lr-0.1': { options: { learningRate: 0.1 } },
  'lr-0.2': { options: { learningRate: 0.2 } },
  'steps-512': { options: { steps: 512 } },
  'decay-1.5': { options: { decayPower: 1.5 } },
  'cos-0': { options: { cossimPower: 0 } },
  'no-whitening': { options: {}, whiten: false },
  'strong-transforms': { options: { transforms: { pad: 0.1, jitter: 0.08, scales: [0.9, 0.95, 1, 1.05, 1.1], angles: [-15, -10, -5, 0, 5, 10, 15] } } },
  'no-settle': { options: { settle: 0 } },
  stretch: { options: {}, stretch: 0.01 },
  pooled: { options: { site: 'pooled' } },
  'lr-0.1-decay-1.25': { options: { learningRate: 0.1, decayPower: 1.25 } },
  'lr-0.1-pooled': { options: { learningRate: 0.1, site: 'pooled' } },
  'decay-1.25-pooled': { options: { decayPower: 1.25, site: 'pooled' } },
  // Study 4: variations on the page's standard quality, tuned on cells disjoint from the ones it is judged on.
  'standard-plain': { options: iconRecipe('standard', Infinity), whiten: false },
  'standard-cos-4': { options: { ...iconRecipe('standard', Infinity), cossimPower: 4 } },
  'standard-strong': { options: { ...iconRecipe('standard', Infinity), transforms: { pad: 0.1, jitter: 0.08, scales: [0.9, 0.95, 1, 1.05, 1.1], angles: [-15, -10, -5, 0, 5, 10, 15] } } },
};
/** The page's qualities (src/featureVis/recipe.ts) are recipes too, measured as the page runs them. */
const isQuality = (name: string): name is IconQuality => (ICON_QUALITIES as readonly string[]).includes(name);
const recipeNames = flags.recipes!.split(',');
for (const name of recipeNames) {
  if (!RECIPES[name] && !isQuality(name)) throw new Error(`--recipes: no recipe "${name}"; there are ${[...Object.keys(RECIPES), ...ICON_QUALITIES].join(', ')}`);
}

interface Row {
  model: string;
  layer: string;
  dim: number;
  icon: string;
  steps: number;
  backend: string;
  msPerIcon: number;
  /** The recipe, or what the row measures. */
  note: string;
  wins?: string;
  recognised?: string;
  contrast?: string;
  colour?: string;
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

/** The model's view of one input in [0, 1] (H x W x C floats). */
function unitPixels(model: ImageModel, raw: RawImage): { unit: Float32Array } {
  const size = { height: model.inputHeight, width: model.inputWidth, channels: model.inputChannels };
  const { input, pixels } = prepareImage(raw, size, model.preprocessing);
  try {
    return { unit: tf.tidy(() => matchChannels(pixels, model.inputChannels).div(255).dataSync() as Float32Array) };
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
  const offset = Number(flags.offset);
  if (!(Number.isInteger(offset) && offset >= 0)) throw new Error(`--offset must be a whole number of cells to skip; got "${flags.offset}".`);
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
    // The sample's first cells do not depend on its length: --offset 48 --cells 16 is disjoint from --cells 48.
    const cells = sampleCells(level.cells, offset + k, 0).slice(offset);
    if (cells.length < k) console.log(`asked for ${k} cells from the ${offset}th of the sample; there are ${cells.length} (the grid has ${level.cells.filter((c) => c.count >= 3).length} with >= 3 members)`);
    if (cells.length === 0) throw new Error('no cell to visualise.');
    const members = cellRows(atlas, g);
    const directions = new Float32Array(cells.length * dim);
    cells.forEach((c, i) => directions.set(c.mean, i * dim));
    console.log(`grid ${g}: ${level.cells.length} cells, ${level.cells.filter((c) => c.count >= 3).length} with >= 3 members; visualising a seeded sample of ${cells.length}${offset ? ` (its cells ${offset}..${offset + cells.length - 1})` : ''}`);

    const choice = await chooseFeatureVisBackend(model, layer, { size: config.size });
    console.log(choice.message);
    if (!choice.backend) return [{ model: atlas.model.name, layer, dim, icon: '-', steps, backend: 'none', msPerIcon: NaN, note: choice.message }];

    const baseOptions: VisualiseOptions = { steps, tries, seed: 0, whitening, colourBasis, size: config.size, batchSize: config.batchSize, cossimPower: 2 };
    const rows: Row[] = [];
    await tf.setBackend(choice.backend);

    // Dataset side: every member of every sampled cell, re-recorded at its position, same objective.
    const memberRows = cells.map((c) => members.get(`${c.i}:${c.j}`) ?? []);
    const mismatched = cells.filter((c, i) => memberRows[i].length !== c.count).length;
    const flat = memberRows.flatMap((rs, ci) => rs.map((r) => ({ r, ci })));
    const area = model.inputHeight * model.inputWidth * model.inputChannels;
    const pixels = new Float32Array(flat.length * area);
    const memberDirections = new Float32Array(flat.length * dim);
    for (let m = 0; m < flat.length; m++) {
      pixels.set(unitPixels(model, await rawOf(table.input[flat[m].r])).unit, m * area);
      memberDirections.set(cells[flat[m].ci].mean, m * dim);
    }
    const sites = flat.map(({ r }) => gridPosition(table.position[r], table.positionShape));
    const exampleScores = await scoreImages(model, layer, pixels, memberDirections, { whitening, cossimPower: 2, site: { x: sites.map((s) => s.x), y: sites.map((s) => s.y) } });
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
    console.log(`${flat.length} members re-recorded (largest relative difference from the recorded rows ${worstRelative.toExponential(1)}${mismatched ? `; ${mismatched} cells' member counts differ after rounding the layout` : ''})`);

    // What a person and the model see: the best example's crop around its position, as large as an icon is in the
    // model's input; and the same-sized crop at a seeded place in each of the dataset's images, for the range of
    // contrast and colour that real images have.
    const [H, W, C] = [model.inputHeight, model.inputWidth, model.inputChannels];
    const side = Math.round(((config.size ?? H) / H) * Math.min(H, W));
    const cropAt = (unit: Float32Array, site: { x: number; y: number }) => {
      const [gh, gw] = atlas.layer.positionShape.length === 2 ? atlas.layer.positionShape : [1, 1];
      const [cx, cy] = site.x < 0 ? [W / 2, H / 2] : [((site.x + 0.5) / gw) * W, ((site.y + 0.5) / gh) * H];
      return cropSquare(unit, H, W, C, cx, cy, side);
    };
    const exemplars = best.map((b) => cropAt(pixels.subarray(b.m * area, (b.m + 1) * area), sites[b.m]));
    const random = createRng(11);
    const datasetCrops: Uint8ClampedArray[] = [];
    for (let input = 0; input < Math.min(300, atlas.inputs.names.length); input++) {
      const { unit } = unitPixels(model, await rawOf(input));
      datasetCrops.push(toRgba(cropSquare(unit, H, W, C, side / 2 + random() * (W - side), side / 2 + random() * (H - side), side)));
    }
    const dataset = looks(datasetCrops);
    // The class the model most often gives the cell's members (whole inputs): what its icon should be recognised as.
    const memberClasses = model.outputSize > 0 ? await topClasses(model, Array.from(flat, (_, m) => ({ side: H, channels: C, data: pixels.subarray(m * area, (m + 1) * area) })), 1) : [];
    const cellClass = cells.map((_, ci) => {
      const counts = new Map<number, number>();
      flat.forEach((f, m) => f.ci === ci && counts.set(memberClasses[m][0], (counts.get(memberClasses[m][0]) ?? 0) + 1));
      return [...counts].sort((a, b) => b[1] - a[1] || a[0] - b[0])[0]?.[0] ?? -1;
    });
    const recognised = async (images: UnitImage[]) => {
      if (model.outputSize === 0) return null;
      const top = await topClasses(model, images, 5);
      return { top1: top.filter((t, i) => t[0] === cellClass[i]).length, top5: top.filter((t, i) => t.includes(cellClass[i])).length, hits: top.map((t, i) => t.includes(cellClass[i])) };
    };
    const exemplarRgba = exemplars.map(toRgba);
    const summarise = (name: string, images: Uint8ClampedArray[], recognition: Awaited<ReturnType<typeof recognised>>) => {
      const look = looks(images);
      const n = images.length;
      return {
        name,
        recognition,
        look,
        line:
          `${name.padEnd(16)} ${recognition ? `recognised top-5 ${recognition.top5}/${n}, top-1 ${recognition.top1}/${n}; ` : ''}` +
          `contrast median ${median(look.contrast).toFixed(1)} (in the dataset's IQR: ${withinQuartiles(look.contrast, dataset.contrast)}/${n}); ` +
          `colourfulness median ${median(look.colourfulness).toFixed(1)} (in IQR: ${withinQuartiles(look.colourfulness, dataset.colourfulness)}/${n})`,
      };
    };
    const [cq1, cq2, cq3] = quartiles(dataset.contrast);
    const [fq1, fq2, fq3] = quartiles(dataset.colourfulness);
    console.log(`dataset crops (${datasetCrops.length} of ${side}x${side} px): contrast quartiles ${cq1.toFixed(1)}, ${cq2.toFixed(1)}, ${cq3.toFixed(1)}; colourfulness ${fq1.toFixed(1)}, ${fq2.toFixed(1)}, ${fq3.toFixed(1)}`);
    const reference = summarise('best exemplars', exemplarRgba, await recognised(exemplars));
    console.log(reference.line);

    const columns: SheetColumn[] = [];
    for (const name of recipeNames) {
      const recipe: Recipe = isQuality(name) ? { options: iconRecipe(name, Math.min(H, W)) } : RECIPES[name];
      const options: VisualiseOptions = { ...baseOptions, ...recipe.options, whitening: recipe.whiten === false ? undefined : whitening };
      let lastLog = 0;
      const t1 = performance.now();
      const result = await visualiseDirections(model, layer, directions, {
        ...options,
        onProgress: ({ done, total }) => {
          if (performance.now() - lastLog > 30_000) {
            lastLog = performance.now();
            console.log(`  ${name} on ${choice.backend}: step ${done}/${total}, ${seconds(performance.now() - t1)}`);
          }
        },
      });
      const msPerIcon = (performance.now() - t1) / cells.length;
      const icons = recipe.stretch ? result.images.map((im) => stretchContrast(im, recipe.stretch!)) : result.images;
      // Every recipe's icons scored by the objective the best examples were (the centre, whitened, cos²), whatever the
      // recipe optimised: a stretched icon, one optimised without whitening or over every position is scored the same way.
      const scores = await scoreIcons(model, layer, icons, result.width, directions, { whitening, cossimPower: 2, site: 'centre' });
      const wins = cells.filter((_, i) => scores[i] > best[i].score).length;
      const ratio = median(cells.map((_, i) => scores[i] / best[i].score));
      const summary = summarise(name, icons, await recognised(icons.map((im) => fromRgba(im, result.width, C))));
      console.log(`${summary.line}; objective above the best example in ${wins}/${cells.length} (median ratio ${ratio.toFixed(2)}); ${seconds(msPerIcon)} per icon`);
      columns.push({ title: name, images: icons, width: result.width, labels: cells.map((_, i) => `${scores[i] > best[i].score ? '>' : '<'} ${summary.recognition?.hits[i] ? 'recognised' : ''}`) });
      rows.push({
        model: atlas.model.name,
        layer,
        dim,
        icon: `${result.width}px`,
        steps: options.steps ?? steps,
        backend: choice.backend,
        msPerIcon,
        note: name,
        wins: `${wins}/${cells.length} (ratio ${ratio.toFixed(2)})`,
        recognised: summary.recognition ? `${summary.recognition.top5}/${cells.length}` : '-',
        contrast: median(summary.look.contrast).toFixed(1),
        colour: median(summary.look.colourfulness).toFixed(1),
      });
    }
    rows.push({ model: atlas.model.name, layer, dim, icon: `${side}px`, steps: 0, backend: '-', msPerIcon: NaN, note: 'best exemplar crops', wins: '', recognised: reference.recognition ? `${reference.recognition.top5}/${cells.length}` : '-', contrast: median(reference.look.contrast).toFixed(1), colour: median(reference.look.colourfulness).toFixed(1) });
    rows.push({ model: atlas.model.name, layer, dim, icon: `${side}px`, steps: 0, backend: '-', msPerIcon: NaN, note: `dataset crops (IQR)`, wins: '', recognised: '-', contrast: `${cq1.toFixed(0)}-${cq3.toFixed(0)}`, colour: `${fq1.toFixed(0)}-${fq3.toFixed(0)}` });
    columns.push({ title: 'best exemplar', images: exemplarRgba, width: side, labels: cells.map((_, i) => (reference.recognition?.hits[i] ? 'recognised' : '')) });

    // cpu timing (a few steps of one batch, extrapolated): cpu only runs what wasm cannot, here or in a browser.
    if (choice.backend !== 'cpu' && cpuSteps > 0) {
      const cpu = await gradientSupport(model, layer, 'cpu', { size: config.size });
      const icon = `${columns[0].width}px`;
      if (cpu.ok) {
        const n = Math.min(cells.length, config.batchSize);
        await tf.setBackend('cpu');
        const t2 = performance.now();
        await visualiseDirections(model, layer, directions.subarray(0, n * dim), { ...baseOptions, steps: cpuSteps, tries: 1 });
        const ms = ((performance.now() - t2) / n) * (steps / cpuSteps);
        rows.push({ model: atlas.model.name, layer, dim, icon, steps, backend: 'cpu', msPerIcon: ms, note: `current, batch ${n}, extrapolated from ${cpuSteps} step${cpuSteps > 1 ? 's' : ''}` });
        await tf.setBackend(choice.backend);
      } else rows.push({ model: atlas.model.name, layer, dim, icon, steps, backend: 'cpu', msPerIcon: NaN, note: cpu.error ?? 'no gradient' });
    }

    const cellTitles = cells.map((c, i) => `cell ${c.i},${c.j} (n=${memberRows[i].length})${cellClass[i] >= 0 && model.classNames ? `: ${model.classNames[cellClass[i]].split(',')[0]}` : ''}`);
    await saveSheet(config.key, `${atlas.model.name} · ${atlas.layer.name.split('/').slice(-2).join('/')} · ${steps} steps on ${choice.backend}`, cellTitles, columns);
    return rows;
  } finally {
    model.dispose();
  }
}

const TILE = 96;

/** One column of the sheet: an image per sampled cell, with a short label under each. */
interface SheetColumn {
  title: string;
  images: Uint8ClampedArray[];
  width: number;
  labels: string[];
}

/** One PNG for a person: a row per sampled cell, a column per recipe and the best exemplar's crop last. */
async function saveSheet(key: string, title: string, cellTitles: string[], columns: SheetColumn[]): Promise<void> {
  const rowTitle = 150;
  const columnW = TILE + 12;
  const rowH = TILE + 18;
  const header = 56;
  const width = rowTitle + columns.length * columnW;
  const height = header + cellTitles.length * rowH;
  const layers: OverlayOptions[] = [];
  const escape = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  let svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">`;
  svg += `<text x="8" y="18" font-family="sans-serif" font-size="14" font-weight="bold">${escape(title)}</text>`;
  svg += `<text x="8" y="34" font-family="sans-serif" font-size="11">&gt;: beats the best example's objective. recognised: the cell's class is in the top 5.</text>`;
  columns.forEach((column, c) => {
    svg += `<text x="${rowTitle + c * columnW}" y="${header - 6}" font-family="sans-serif" font-size="11" font-weight="bold">${escape(column.title)}</text>`;
  });
  for (let r = 0; r < cellTitles.length; r++) {
    const top = header + r * rowH;
    svg += `<text x="8" y="${top + TILE / 2}" font-family="sans-serif" font-size="10">${escape(cellTitles[r].slice(0, 28))}</text>`;
    for (let c = 0; c < columns.length; c++) {
      const column = columns[c];
      const left = rowTitle + c * columnW;
      const png = await sharp(Buffer.from(column.images[r]), { raw: { width: column.width, height: column.width, channels: 4 } })
        .resize(TILE, TILE, { kernel: column.width < TILE / 2 ? 'nearest' : 'lanczos3' })
        .png()
        .toBuffer();
      layers.push({ input: png, left, top });
      svg += `<text x="${left}" y="${top + TILE + 12}" font-family="sans-serif" font-size="10">${escape(column.labels[r])}</text>`;
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
  const header = ['model', 'layer', 'D', 'recipe', 'icon', 'steps', 'backend', 'time per icon', 'objective > best example', 'recognised (top 5)', 'contrast', 'colourfulness'];
  const table = rows.map((r) => [
    r.model,
    r.layer.replace(/^.*\/(Conv2d_\d+_\w+)\/.*$/, '$1'),
    String(r.dim),
    r.note,
    r.icon,
    r.steps ? String(r.steps) : '-',
    r.backend,
    Number.isFinite(r.msPerIcon) ? seconds(r.msPerIcon) : '-',
    r.wins ?? '',
    r.recognised ?? '',
    r.contrast ?? '',
    r.colour ?? '',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...table.map((t) => t[i].length)));
  for (const line of [header, ...table]) console.log(line.map((v, i) => v.padEnd(widths[i])).join('  '));
}

await main();
