import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import type { InputError, PositionSampling } from '../compute/atlas';
import {
  neuronsVersusRandom,
  type DirectionKind,
  type DissectionResult,
  type KindSummary,
  type KindTests,
  type VersusRandomResult,
} from '../compute/directions/versusRandom';
import type { TTestResult } from '../compute/directions/stats';
import { dotRow } from '../compute/directions/vectors';
import type { ActivationTable } from '../compute/types';
import { chooseBackend } from '../model/backend';
import type { ImageModel } from '../model/image/imageModel';
import type { Preprocessing } from '../model/image/preprocess';
import { encodeSae } from '../model/sae/encode';
import { latentColumn, type Sae } from '../model/sae/sae';
import { recordActivations, type ImageProvider } from '../model/image/recordImages';
import { documentsFromFiles } from '../model/text/documents';
import { recordTextActivations } from '../model/text/recordText';
import type { TextModel } from '../model/text/textModel';
import { tokenContext } from '../model/text/tokenizer';
import { bundledSample, isTextModelArg, loadModelForCli, loadTextModelForCli } from './buildAtlas';
import { wholeNumber } from '../lib/validate';
import { printNotes } from './cliText';
import { openSaeForLayer, readSaeFolder } from './saeFolder';
import { folderProvider, textFilesFromPath } from './nodeIo';

export const BASIS_FILE_VERSION = 1;
/** The built-in text model's bundled documents, recorded when --text is left out. */
export const TEXT_SAMPLE = fileURLToPath(new URL('../../public/text-sample/moby-dick-sample.jsonl', import.meta.url));
/** Tokens shown before a text row's token in the file. */
const CONTEXT_TOKENS = 6;

const USAGE = `Neurons against random directions at one layer, and Network Dissection's basis-against-rotation check.
Scores k neurons and k seeded random unit directions by their top inputs; prints a table and writes JSON.

  npm run basis -- [--model default|default-text|<dir>] [--layer <name>] [--images <dir> | --text <file|dir>] [--out basis.json]

  --model <m>             default: the built-in image model (models/fashion-cnn); default-text: the built-in
                          GPT-2 (models/text-gpt2); or a TF.js model folder or a GPT-2 folder
  --layer <name>          the layer to record; default: the model's default layer (--list-layers to see them)
  --images <dir>          image folder; sub-folders are labels, or a labels.csv in it (file,class_index,...)
                          labels each file; default with --model default: the bundled Fashion-MNIST sample
  --text <file|dir>       .txt or .jsonl, or a folder of them; default with default-text: public/text-sample.
                          A text row's label is its token: purity is "the same token"
  --samples <pooled|N|all> rows per input: pooled (images' default), N positions, or all (text's default);
                          with positions, a direction's top inputs are distinct inputs, each at its best row
  --k <n>                 neurons sampled (seeded, among live ones) and as many random directions; default: 32
  --top <n>               top inputs scored per direction; default: 20
  --rotations <n>         random rotations of the basis for the dissection check; default: 10
  --threshold <p>         label purity of a detector in the dissection check; default: 0.5
  --seed <n>              random seed; default: 0
  --sae <dir>             an SAE in SAELens's files (cfg.json, sae_weights.safetensors; npm run sae writes them) for
                          this layer: k seeded live latents are scored beside the neurons and random directions, a
                          latent's top inputs being the rows where the SAE's activation of it is largest, and every
                          latent enters the dissection count
  --preprocess <p>        unit | symmetric | meanstd (image models)
  --input-size <px>       input size for graph models with a dynamic size
  --out <file>            output JSON; default: basis.json
  --list-layers           print the recordable layers and exit
`;

/** What `npm run basis` is asked for. */
export interface BasisCliOptions {
  /** 'default', 'default-text' or a model folder. */
  model: string;
  layer?: string;
  images?: string;
  text?: string;
  samples?: PositionSampling;
  k?: number;
  top?: number;
  rotations?: number;
  threshold?: number;
  seed?: number;
  /** A folder with an SAE of this layer in SAELens's files: its latents are scored too. */
  sae?: string;
  preprocessing?: Preprocessing;
  inputSize?: number;
  /** One line per stage, for the terminal. */
  onStage?: (message: string) => void;
}

/** One of a direction's top inputs, as the file shows it. */
export interface BasisTopInput {
  input: string;
  /** Flat position in the layer's positions (y * W + x, or the token index); -1 for a pooled row. */
  position: number;
  label: string | null;
  /** The row's projection on the direction (a neuron's activation; a latent's: the SAE's activation of it). */
  activation: number;
  /** Text: the recorded token and the tokens before it, the token in [brackets]. */
  token?: string;
  context?: string;
}

/** One scored direction in the file. */
export interface BasisDirection {
  kind: DirectionKind;
  index: number;
  purity: number | null;
  spread: number;
  coherence: number;
  top: BasisTopInput[];
}

/** The file `npm run basis` writes. */
export interface BasisReport {
  version: number;
  kind: 'neurons-vs-random';
  model: string;
  modality: 'image' | 'text';
  layer: string;
  layerDim: number;
  backend: string;
  inputs: { source: string; count: number };
  samplesPerInput: PositionSampling;
  rows: number;
  /** Where labels came from (null: none, so purity and the dissection check are skipped) and how many distinct ones. */
  labels: { source: string | null; classes: number; labelledRows: number };
  options: { k: number; top: number; rotations: number; threshold: number; seed: number };
  /** How the scores are defined, in words. */
  definitions: Record<'neurons' | 'random' | 'top' | 'purity' | 'spread' | 'coherence' | 'dissection', string> & { latents?: string };
  liveNeurons: number;
  neurons: number;
  /** `latent` only with --sae. */
  summary: { neuron: KindSummary; random: KindSummary; latent?: KindSummary };
  tests: { purity: TTestResult | null; spread: TTestResult | null; coherence: TTestResult | null };
  /** With --sae: Welch's t-tests of latents against neurons and against random directions (t > 0: latents higher). */
  latentTests?: { versusNeurons: KindTests; versusRandom: KindTests };
  /** With --sae, `dissection.latent` holds the rate over every latent. */
  dissection: DissectionResult | null;
  /** The SAE whose latents were scored (--sae), or null. */
  sae: BasisSae | null;
  /** Neurons, then random directions, then latents. */
  directions: BasisDirection[];
  /** `encode`: encoding every row with the SAE (--sae). */
  seconds: { record: number; compute: number; encode?: number };
  notices: string[];
  unreadable: InputError[];
}

/** The SAE of --sae in the file. */
export interface BasisSae {
  folder: string;
  /** The layer its hook_name maps to (null where cfg.json names none: checked by width only). */
  layer: string | null;
  architecture: string;
  /** Latents active per row (TopK), null for a ReLU SAE. */
  k: number | null;
  dSae: number;
  /** Latents whose top inputs are not ties at 0 (active on at least --top inputs), and those scored: min(--k, live). */
  liveLatents: number;
  latents: number;
  /** Mean latents active per row over the recorded rows. */
  l0: number;
}

/** A recorded layer with what the report needs to name its rows. */
interface Recorded {
  modality: 'image' | 'text';
  model: string;
  layer: string;
  table: ActivationTable;
  names: string[];
  /** Per row: a label id or -1; null without labels. */
  labels: Int32Array | null;
  labelNames: string[];
  labelSource: string | null;
  samples: PositionSampling;
  source: string;
  tokenIds?: Int32Array[];
  notices: string[];
  errors: InputError[];
}

const DEFINITIONS: BasisReport['definitions'] = {
  neurons: 'a seeded sample of k among the live neurons (those whose top inputs are not ties at their minimum), all of them when there are at most k',
  random: 'as many seeded unit directions, uniform on the sphere in the layer\'s coordinates',
  top: 'the rows with the largest projection on the direction, ties in a seeded random order; with positions recorded, distinct inputs, each at its best row',
  purity: 'share of the most common label among the top inputs (text: the same token)',
  spread: 'std of the top inputs\' projections over their lift above the mean projection of all rows (lower: more alike)',
  coherence: 'mean pairwise cosine of the top inputs\' activation vectors, centred on the mean of all rows',
  dissection: 'share of the layer\'s units (dead ones failing) whose top inputs reach the purity threshold, for the basis and for seeded random rotations of it',
};
const LATENT_DEFINITION =
  'a seeded sample of k among the SAE\'s live latents (active on at least --top inputs); a latent\'s top inputs are the rows with the largest activation of it by the SAE ' +
  '(its encoder and nonlinearity over every recorded row, not a projection), and it is scored by the same purity, spread and coherence; the dissection counts every latent';

/** Records the layer, scores neurons against random directions and gathers the report. */
export async function runBasis(options: BasisCliOptions): Promise<BasisReport> {
  const say = options.onStage ?? (() => {});
  const k = options.k ?? 32;
  const top = options.top ?? 20;
  const rotations = options.rotations ?? 10;
  const threshold = options.threshold ?? 0.5;
  const seed = options.seed ?? 0;
  if (options.images !== undefined && options.text !== undefined) throw new Error('Pass --images or --text, not both.');
  const backend = await chooseBackend({ node: true });
  // The files are read before recording, so that a missing folder fails at once; they are checked against the layer after.
  const saeFiles = options.sae !== undefined ? await readSaeFolder(options.sae) : null;
  const started = performance.now();
  const recorded = (await isText(options)) ? await recordText(options, seed, say) : await recordImages(options, seed, say);
  const recordSeconds = (performance.now() - started) / 1000;
  const { table } = recorded;
  const dim = table.dim;
  const groups = recorded.samples === 'pooled' ? null : table.input;
  if (!recorded.labels) recorded.notices.push('No labels: purity and the dissection check are skipped.');

  const values = table.values.subarray(0, table.count * dim);
  let sae: Sae | null = null;
  let latents: Awaited<ReturnType<typeof encodeSae>> | null = null;
  let encodeSeconds = 0;
  if (saeFiles) {
    sae = openSaeForLayer(saeFiles, recorded.modality, recorded.layer, dim);
    say(`encoding ${table.count} rows with the SAE (${sae.config.dSae} latents)`);
    const encodeStarted = performance.now();
    latents = await encodeSae(sae, values);
    encodeSeconds = (performance.now() - encodeStarted) / 1000;
  }

  say(`scoring ${k} neurons${sae ? ', latents' : ''} and random directions over ${table.count} rows (${dim}-d), ${rotations} rotation(s)`);
  const computeStarted = performance.now();
  const result = await neuronsVersusRandom(
    values,
    table.count,
    dim,
    recorded.labels,
    { k, topN: top, seed, rotations, threshold, groups, latents: latents && sae ? { ...latents, decoder: sae.weights.W_dec } : null },
    { onProgress: (e) => say(`  step ${e.done} of ${e.total} (the basis, the directions, then each rotation)`) },
  );
  const computeSeconds = (performance.now() - computeStarted) / 1000;
  if (result.liveNeurons < dim) recorded.notices.push(`${dim - result.liveNeurons} of ${dim} neurons are dead or tied at their minimum over their top ${top} inputs; they are not sampled.`);
  const saturated = result.directions.filter((d) => d.kind === 'neuron' && d.spread === 0).length;
  if (saturated > 0) {
    recorded.notices.push(
      `${saturated} of ${result.neurons} neurons have top inputs all at one activation (saturated, as a ReLU6 at 6): their top inputs are a seeded random draw among the tied ones.`,
    );
  }
  if (result.neurons < k) recorded.notices.push(`Only ${result.neurons} live neurons: ${result.neurons} neurons and ${result.neurons} random directions are scored, not ${k}.`);
  const dictionary = result.dictionary;
  if (dictionary && dictionary.latents < k) recorded.notices.push(`Only ${dictionary.liveLatents} of the SAE's ${dictionary.dSae} latents are active on at least ${top} inputs: ${dictionary.latents} latents are scored, not ${k}.`);

  return {
    version: BASIS_FILE_VERSION,
    kind: 'neurons-vs-random',
    model: recorded.model,
    modality: recorded.modality,
    layer: recorded.layer,
    layerDim: dim,
    backend: backend.name,
    inputs: { source: recorded.source, count: recorded.names.length },
    samplesPerInput: recorded.samples,
    rows: table.count,
    labels: {
      source: recorded.labelSource,
      classes: recorded.labels ? new Set(Array.from(recorded.labels).filter((l) => l >= 0)).size : 0,
      labelledRows: recorded.labels ? recorded.labels.filter((l) => l >= 0).length : 0,
    },
    options: { k, top, rotations, threshold, seed },
    definitions: sae ? { ...DEFINITIONS, latents: LATENT_DEFINITION } : DEFINITIONS,
    liveNeurons: result.liveNeurons,
    neurons: result.neurons,
    summary: result.summary,
    tests: result.tests,
    ...(result.latentTests ? { latentTests: result.latentTests } : {}),
    dissection: result.dissection,
    sae:
      sae && latents && dictionary
        ? {
            folder: options.sae!,
            layer: sae.config.layer,
            architecture: sae.config.architecture,
            k: sae.config.architecture === 'topk' ? sae.config.k! : null,
            dSae: sae.config.dSae,
            liveLatents: dictionary.liveLatents,
            latents: dictionary.latents,
            l0: latents.latent.length / Math.max(1, latents.count),
          }
        : null,
    directions: directionsOf(result, recorded, values, latents),
    seconds: { record: round(recordSeconds), compute: round(computeSeconds), ...(sae ? { encode: round(encodeSeconds) } : {}) },
    notices: recorded.notices,
    unreadable: recorded.errors,
  };
}

const round = (seconds: number) => Math.round(seconds * 100) / 100;

async function isText(options: BasisCliOptions): Promise<boolean> {
  if (options.model === 'default-text') return true;
  if (options.images !== undefined) return false;
  return isTextModelArg(options.model, options.text);
}

async function recordImages(options: BasisCliOptions, seed: number, say: (message: string) => void): Promise<Recorded> {
  let images: ImageProvider;
  let source: string;
  if (options.images !== undefined) [images, source] = [await folderProvider(options.images), options.images];
  else if (options.model === 'default') [images, source] = [await bundledSample(), 'bundled sample (public/sample)'];
  else throw new Error('No images given: pass --images <folder> (the bundled sample only fits the default model).');
  const model = await loadModelForCli(options.model, { preprocessing: options.preprocessing, inputSize: options.inputSize });
  try {
    const layer = checkLayer(model, options.layer ?? model.defaultLayer);
    const samples = options.samples ?? 'pooled';
    say(`recording ${layer} (${samples}) for ${images.count} input(s) of ${source}`);
    const recording = await recordActivations(model, images, { layer, samplesPerInput: samples, seed, thumbnailSize: 1 });
    const csv = options.images !== undefined ? await readLabelsCsv(join(options.images, 'labels.csv')) : null;
    const inputLabels = csv ? recording.names.map((name) => csv.get(name) ?? null) : recording.labels;
    const labelSource = csv ? 'labels.csv' : options.images === undefined ? 'the sample\'s classes' : 'sub-folder names';
    const { labels, labelNames } = rowLabels(recording.table, inputLabels);
    return {
      modality: 'image',
      model: model.info.name,
      layer,
      table: recording.table,
      names: recording.names,
      labels,
      labelNames,
      labelSource: labels ? labelSource : null,
      samples: recording.samplesPerInput,
      source,
      notices: [...recording.notices],
      // labels.csv sits among the images: it is read, not an unreadable image.
      errors: csv ? recording.errors.filter((e) => e.name !== 'labels.csv') : recording.errors,
    };
  } finally {
    model.dispose();
  }
}

async function recordText(options: BasisCliOptions, seed: number, say: (message: string) => void): Promise<Recorded> {
  const builtIn = options.model === 'default' || options.model === 'default-text';
  const source = options.text ?? (builtIn ? TEXT_SAMPLE : undefined);
  if (source === undefined) throw new Error(`${options.model} is a GPT-2: pass --text <file|folder> with the documents to record.`);
  const read = documentsFromFiles(await textFilesFromPath(source));
  if (read.documents.length === 0) throw new Error(`No documents in ${source}${read.errors[0] ? ` (${read.errors[0].name}: ${read.errors[0].reason})` : ': it holds no files'}.`);
  const model: TextModel = await loadTextModelForCli(builtIn ? 'default' : options.model);
  try {
    const layer = checkLayer(model, options.layer ?? model.defaultLayer);
    const samples = options.samples ?? 'all';
    say(`recording ${layer} (${samples === 'all' ? 'every token' : samples}) for ${read.documents.length} document(s) of ${source}`);
    const recording = await recordTextActivations(model, read.documents, { layer, samplesPerInput: samples, seed });
    const key = recording.table.key;
    const notices = [...recording.notices];
    if (!key) notices.push('Pooled text rows stand for no one token, so they have no labels.');
    else notices.push('Text labels are token ids: purity is the share of the top inputs recorded at the same token.');
    const labels = key ? key.subarray(0, recording.table.count) : null;
    return {
      modality: 'text',
      model: model.info.name,
      layer,
      table: recording.table,
      names: recording.names,
      labels,
      labelNames: [],
      labelSource: labels ? 'token ids' : null,
      samples: recording.samplesPerInput,
      source,
      tokenIds: recording.tokenIds,
      notices,
      errors: [...read.errors, ...recording.errors],
    };
  } finally {
    model.dispose();
  }
}

function checkLayer(model: ImageModel | TextModel, layer: string): string {
  if (model.layers.some((l) => l.name === layer)) return layer;
  const names = model.layers.map((l) => l.name);
  const shown = names.length > 12 ? [...names.slice(0, 4), '...', ...names.slice(-8)] : names;
  throw new Error(`Layer "${layer}" is not a recordable layer of this model. Its layers: ${shown.join(', ')}.`);
}

/** Row label ids from each input's label name; null when no input has one. */
function rowLabels(table: ActivationTable, inputLabels: (string | null)[]): { labels: Int32Array | null; labelNames: string[] } {
  const labelNames: string[] = [];
  const ids = new Map<string, number>();
  const inputIds = inputLabels.map((name) => {
    if (name === null) return -1;
    if (!ids.has(name)) ids.set(name, labelNames.push(name) - 1);
    return ids.get(name)!;
  });
  if (labelNames.length === 0) return { labels: null, labelNames };
  return { labels: Int32Array.from({ length: table.count }, (_, r) => inputIds[table.input[r]]), labelNames };
}

/**
 * A labels.csv beside the images (file,class_index[,wnid,class_name], as the ImageNet fixture's): each
 * file's class as "name (index)", or either alone where the other is missing. Null when there is no such file.
 */
export async function readLabelsCsv(path: string): Promise<Map<string, string> | null> {
  const text = await readFile(path, 'utf8').catch(() => null);
  if (text === null) return null;
  const [header, ...lines] = text.split(/\r?\n/).filter((l) => l.trim());
  const columns = splitCsv(header ?? '').map((c) => c.trim().toLowerCase());
  const file = columns.indexOf('file');
  const index = columns.indexOf('class_index');
  const name = columns.indexOf('class_name');
  if (file < 0 || (index < 0 && name < 0)) throw new Error(`${path}: expected a header with "file" and "class_index" or "class_name"; got "${header}".`);
  const labels = new Map<string, string>();
  for (const line of lines) {
    const cells = splitCsv(line);
    const className = name >= 0 ? cells[name]?.trim() : '';
    const classIndex = index >= 0 ? cells[index]?.trim() : '';
    // The index tells classes apart (ImageNet has two "crane"s); the name makes it readable.
    const label = className && classIndex ? `${className} (${classIndex})` : className || classIndex;
    if (cells[file] && label) labels.set(cells[file], label);
  }
  return labels;
}

/** One CSV line's cells; double quotes enclose a cell that holds commas ("" is a quote). */
function splitCsv(line: string): string[] {
  const cells: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quoted && c === '"' && line[i + 1] === '"') [cell, i] = [cell + '"', i + 1];
    else if (c === '"') quoted = !quoted;
    else if (c === ',' && !quoted) [cells[cells.length], cell] = [cell, ''];
    else cell += c;
  }
  cells.push(cell);
  return cells;
}

function directionsOf(result: VersusRandomResult, recorded: Recorded, values: Float32Array, latents: Awaited<ReturnType<typeof encodeSae>> | null): BasisDirection[] {
  const { table, names, labels, labelNames, tokenIds } = recorded;
  const dim = table.dim;
  return result.directions.map((d) => {
    const latentValues = d.kind === 'latent' && latents ? latentColumn(latents, d.index) : null;
    return {
    kind: d.kind,
    index: d.index,
    purity: d.purity,
    spread: d.spread,
    coherence: d.coherence,
    top: Array.from(d.top, (row): BasisTopInput => {
      const input = table.input[row];
      const position = table.position[row];
      const label = labels && labels[row] >= 0 ? (tokenIds ? null : labelNames[labels[row]]) : null;
      const activation = latentValues ? latentValues[row] : d.direction ? dotRow(values, row, dim, d.direction) : values[row * dim + d.index];
      const entry: BasisTopInput = { input: names[input], position, label, activation };
      if (tokenIds && position >= 0) {
        const { token, context } = tokenContext(tokenIds[input], position, CONTEXT_TOKENS);
        entry.token = token;
        entry.label = token;
        entry.context = context;
      }
      return entry;
    }),
    };
  });
}

/** The readable table `npm run basis` prints. */
export function formatBasisTable(report: BasisReport): string {
  const { summary, tests, dissection, options } = report;
  const rowsPer =
    report.samplesPerInput === 'pooled'
      ? 'pooled'
      : `${report.samplesPerInput === 'all' ? 'every position' : `${report.samplesPerInput} position(s)`} per input, top inputs distinct`;
  const { sae, latentTests } = report;
  const lines = [
    `neurons vs ${sae ? 'latents vs ' : ''}random directions at ${report.model} / ${report.layer} (${report.layerDim}-d, ${rowsPer})`,
    `${report.rows} rows of ${report.inputs.count} inputs (${report.inputs.source}); ` +
      (report.labels.source ? `labels: ${report.labels.source} (${report.labels.classes} distinct)` : 'no labels'),
    `${report.neurons} neurons (seeded among ${report.liveNeurons} live of ${report.layerDim}) and ${report.neurons} random directions; top ${options.top}, seed ${options.seed}`,
    ...(sae
      ? [`${sae.latents} latents (seeded among ${sae.liveLatents} live of ${sae.dSae}) of the SAE in ${sae.folder} (${sae.architecture}${sae.k !== null ? `, k ${sae.k}` : ''}, L0 ${sae.l0.toFixed(1)} over these rows)`]
      : []),
    '',
  ];
  const header = ['score', 'neurons mean ± std', 'random mean ± std', 'Welch t', 'p', ...(sae ? ['latents mean ± std', 'lat vs neur t (p)', 'lat vs rand t (p)'] : [])];
  const tp = (t: TTestResult | null) => (t ? `${t.t.toFixed(2)} (${formatP(t.p)})` : '-');
  const body = (['purity', 'spread', 'coherence'] as const).map((score) => {
    const [a, b, t] = [summary.neuron[score], summary.random[score], tests[score]];
    if (!a || !b) return [score, '-', '-', '-', 'no labels', ...(sae ? ['-', '-', '-'] : [])];
    const c = summary.latent?.[score];
    const latentCells = sae && latentTests ? [c ? `${fixed(c.mean)} ± ${fixed(c.std)}` : '-', tp(latentTests.versusNeurons[score]), tp(latentTests.versusRandom[score])] : [];
    return [score, `${fixed(a.mean)} ± ${fixed(a.std)}`, `${fixed(b.mean)} ± ${fixed(b.std)}`, t ? t.t.toFixed(2) : '-', t ? formatP(t.p) : '-', ...latentCells];
  });
  const widths = header.map((h, j) => Math.max(h.length, ...body.map((r) => r[j].length)));
  const row = (cells: string[]) => cells.map((cell, j) => cell.padEnd(widths[j])).join('  ').trimEnd();
  lines.push(row(header), row(widths.map((w) => '-'.repeat(w))), ...body.map(row));
  if (dissection) {
    const rotated = dissection.rotated.length
      ? `rotations ${fixed(dissection.rotatedMean)} ± ${fixed(dissection.rotatedStd)} (${dissection.rotated.length}` +
        `${dissection.unitsPerRotation < dissection.units ? `, ${dissection.unitsPerRotation} directions of each` : ''}, max ${fixed(Math.max(...dissection.rotated))}), p = ${formatP(dissection.p)}`
      : 'no rotations';
    lines.push('', `Network Dissection (purity >= ${dissection.threshold} over the top ${dissection.topN}): basis ${fixed(dissection.basis)} of ${dissection.units} units ` +
        `(${fixed(dissection.basisLive)} of the ${dissection.liveUnits} live); ${rotated}`);
    const latent = dissection.latent;
    if (latent) {
      lines.push(`  latents: ${fixed(latent.rate)} of ${latent.units} (${fixed(latent.rateLive)} of the ${latent.liveUnits} live); against the rotations p = ${formatP(latent.p)}`);
    }
  }
  const encoded = report.seconds.encode !== undefined ? `, encode ${report.seconds.encode.toFixed(1)} s` : '';
  lines.push('', `record ${report.seconds.record.toFixed(1)} s${encoded}, score ${report.seconds.compute.toFixed(1)} s (${report.backend})`);
  return `${lines.join('\n')}\n`;
}

const fixed = (v: number) => (Number.isFinite(v) ? v.toFixed(3) : '-');
const formatP = (p: number) => (p === 0 ? '0' : p < 1e-3 ? p.toExponential(1) : p.toFixed(3));

function parseSamples(value: string): PositionSampling {
  if (value === 'pooled' || value === 'all') return value;
  return wholeNumber(value, '--samples', 1);
}

/** Parses the command line into runBasis's options and the output path; null for --help. */
export function parseBasisArgs(args: string[]): { options: BasisCliOptions; out: string; listLayers: boolean } | null {
  const { values } = parseArgs({
    args,
    options: {
      model: { type: 'string', default: 'default' },
      layer: { type: 'string' },
      images: { type: 'string' },
      text: { type: 'string' },
      samples: { type: 'string' },
      k: { type: 'string', default: '32' },
      top: { type: 'string', default: '20' },
      rotations: { type: 'string', default: '10' },
      threshold: { type: 'string', default: '0.5' },
      seed: { type: 'string', default: '0' },
      sae: { type: 'string' },
      preprocess: { type: 'string' },
      'input-size': { type: 'string' },
      out: { type: 'string', default: 'basis.json' },
      'list-layers': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) return null;
  if (values.images !== undefined && values.text !== undefined) throw new Error('Pass --images or --text, not both.');
  if (values.model === 'default-text' && values.images !== undefined) throw new Error('--images needs an image model; default-text is the built-in GPT-2.');
  if (values.text !== undefined || values.model === 'default-text') {
    const imageOnly = (['preprocess', 'input-size'] as const).filter((flag) => values[flag] !== undefined);
    if (imageOnly.length) throw new Error(`${imageOnly.map((f) => `--${f}`).join(', ')} ${imageOnly.length === 1 ? 'applies' : 'apply'} to image models, not to text.`);
  }
  const threshold = Number(values.threshold);
  if (values.threshold.trim() === '' || !(threshold > 0 && threshold <= 1)) throw new Error(`--threshold is a label purity in (0, 1]; got "${values.threshold}".`);
  const preprocess = values.preprocess as Preprocessing['range'] | undefined;
  if (preprocess && !['unit', 'symmetric', 'meanstd'].includes(preprocess)) throw new Error('--preprocess must be unit, symmetric or meanstd.');
  return {
    options: {
      model: values.model,
      layer: values.layer,
      images: values.images,
      text: values.text,
      samples: values.samples === undefined ? undefined : parseSamples(values.samples),
      k: wholeNumber(values.k, '--k', 2),
      top: wholeNumber(values.top, '--top', 2),
      rotations: wholeNumber(values.rotations, '--rotations', 0),
      threshold,
      seed: wholeNumber(values.seed, '--seed', Number.MIN_SAFE_INTEGER),
      ...(values.sae !== undefined ? { sae: values.sae } : {}),
      preprocessing: preprocess ? { range: preprocess } : undefined,
      inputSize: values['input-size'] ? wholeNumber(values['input-size'], '--input-size', 1) : undefined,
    },
    out: values.out,
    listLayers: values['list-layers'],
  };
}

async function listLayers(options: BasisCliOptions): Promise<void> {
  await chooseBackend({ node: true });
  const text = await isText(options);
  const model = text ? await loadTextModelForCli(options.model === 'default-text' ? 'default' : options.model) : await loadModelForCli(options.model);
  for (const l of model.layers) process.stdout.write(`${l.name}\t[${l.shape.join(', ')}]${l.name === model.defaultLayer ? '\t(default)' : ''}\n`);
  model.dispose();
}

async function main(): Promise<void> {
  const parsed = parseBasisArgs(process.argv.slice(2));
  if (!parsed) {
    process.stdout.write(USAGE);
    return;
  }
  if (parsed.listLayers) return listLayers(parsed.options);
  const report = await runBasis({ ...parsed.options, onStage: (message) => process.stderr.write(`${message}\n`) });
  await writeFile(parsed.out, `${JSON.stringify(report, null, 1)}\n`);
  printNotes(report.notices, report.unreadable);
  process.stdout.write(formatBasisTable(report));
  process.stdout.write(`wrote ${parsed.out}\n`);
}

// Run only as a script: the tests import the parser and runBasis.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((e: Error) => {
    process.stderr.write(`error: ${e.message}\n`);
    process.exitCode = 1;
  });
}
