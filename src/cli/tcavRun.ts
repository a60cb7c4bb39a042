import { stat } from 'node:fs/promises';
import type { CavMethod } from '../compute/directions/cav';
import { cavAccuracy } from '../compute/directions/cav';
import { bonferroni } from '../compute/directions/stats';
import { mostPredicted, tcavTest } from '../compute/directions/tcav';
import { tcavCavs } from '../compute/directions/concept';
import { chooseBackend } from '../model/backend';
import { classGradients } from '../model/directions/classGradients';
import type { ImageModel } from '../model/image/imageModel';
import { preparedInputs } from '../model/image/modelInputs';
import type { Preprocessing } from '../model/image/preprocess';
import { recordActivations, type ImageProvider, type ImageRecording } from '../model/image/recordImages';
import { loadModelForCli } from './buildAtlas';
import { folderProvider } from './nodeIo';

export const TCAV_FILE_VERSION = 1;
const ALPHA = 0.05;
const AUTO_CLASSES = 3;
const FOLDS = 5;

/** What `npm run tcav` is asked for. */
export interface TcavCliOptions {
  model: string;
  layer: string;
  /** Folders of images: the concept's examples, the counterexamples random sets are drawn from, and the inputs to explain. */
  concept: string;
  negatives: string;
  inputs: string;
  /** 'auto': the classes most often predicted for the inputs (up to 3); or class indices. */
  classes?: 'auto' | number[];
  runs?: number;
  method?: 'mean' | 'logistic';
  labels?: string;
  seed?: number;
  preprocessing?: Preprocessing;
  inputSize?: number;
  /** One line per stage, for the terminal. */
  onStage?: (message: string) => void;
}

/** One tested (or skipped) class of the report. */
export interface TcavClassReport {
  classIndex: number;
  className: string;
  /** How many of --inputs the model predicts as this class; these are the inputs whose gradients are tested. */
  inputs: number;
  inputNames: string[];
  /** Mean TCAV score over the concept's runs; null where the class was skipped. */
  score: number | null;
  randomMean: number | null;
  randomStd: number | null;
  /** Two-sided p of the concept runs' scores against the random CAVs' (Welch's t). */
  p: number | null;
  /** p times the number of classes tested, capped at 1. */
  pBonferroni: number | null;
  /** p < alpha / classesTested. */
  significant: boolean;
  /** Why the class was not tested, where it was not. */
  skipped?: string;
}

/** The file `npm run tcav` writes. */
export interface TcavReport {
  version: number;
  model: string;
  layer: string;
  layerDim: number;
  backend: string;
  concept: { folder: string; count: number };
  negatives: { folder: string; count: number };
  inputs: { folder: string; count: number };
  method: 'mean' | 'logistic';
  runs: number;
  seed: number;
  /** Balanced held-out accuracy of the concept's classifier (concept vs all negatives), by stratified k-fold. */
  cavAccuracy: number;
  cavAccuracyFolds: number;
  classSelection: 'auto' | 'given';
  /** Which inputs each class is tested on. */
  inputSelection: string;
  alpha: number;
  classesTested: number;
  /** alpha / classesTested: a class is significant when its p is below this. */
  threshold: number;
  classes: TcavClassReport[];
  /** Files that could not be read, per folder; the rest went through. */
  unreadable: { folder: string; name: string; reason: string }[];
}

/** TCAV of one concept for a few classes of an image model, from folders of images (Kim et al. 2018). */
export async function runTcav(options: TcavCliOptions): Promise<TcavReport> {
  const runs = options.runs ?? 20;
  const method = options.method ?? 'mean';
  const seed = options.seed ?? 0;
  if (!Number.isInteger(runs) || runs < 2) throw new Error(`--runs must be a whole number of at least 2 (the random CAVs need a spread); got ${runs}.`);
  if (method !== 'mean' && method !== 'logistic') throw new Error(`--method must be mean or logistic; got "${String(method)}".`);
  const cavMethod: CavMethod = method === 'mean' ? 'difference-of-means' : 'logistic';
  const say = options.onStage ?? (() => {});

  const folders = { concept: options.concept, negatives: options.negatives, inputs: options.inputs };
  const providers = {} as Record<keyof typeof folders, ImageProvider>;
  for (const [flag, folder] of Object.entries(folders) as [keyof typeof folders, string][]) {
    providers[flag] = await imageFolder(flag, folder);
  }

  const backend = await chooseBackend({ node: true });
  const model = await loadModelForCli(options.model, { labels: options.labels, preprocessing: options.preprocessing, inputSize: options.inputSize });
  try {
    const layer = model.layers.find((l) => l.name === options.layer);
    if (!layer) {
      const names = model.layers.map((l) => l.name);
      const shown = names.length > 12 ? [...names.slice(0, 4), '...', ...names.slice(-8)] : names;
      throw new Error(`Layer "${options.layer}" is not a recordable layer of model "${model.name}". Its layers: ${shown.join(', ')}.`);
    }
    if (model.outputSize === 0) throw new Error(`Model "${model.name}" has no class output, so it has no classes to test.`);
    const given = options.classes === undefined || options.classes === 'auto' ? null : options.classes;
    for (const k of given ?? []) {
      if (!Number.isInteger(k) || k < 0 || k >= model.outputSize) {
        throw new Error(`Class ${k} is out of range: model "${model.name}" has ${model.outputSize} classes (0..${model.outputSize - 1}).`);
      }
    }

    const record = async (flag: keyof typeof folders): Promise<ImageRecording> => {
      say(`recording ${layer.name} for ${providers[flag].count} file(s) of --${flag} ${folders[flag]}`);
      try {
        return await recordActivations(model, providers[flag], { layer: layer.name, samplesPerInput: 'pooled', seed, thumbnailSize: 1 });
      } catch (e) {
        throw new Error(`--${flag} ${folders[flag]}: ${(e as Error).message}`, { cause: e });
      }
    };
    const concept = await record('concept');
    const negatives = await record('negatives');
    const inputs = await record('inputs');
    const dim = layer.shape[layer.shape.length - 1];
    const rows = (r: ImageRecording) => r.table.values.subarray(0, r.table.count * dim);
    const nPos = concept.table.count;
    const nNeg = negatives.table.count;
    if (nPos < 2) throw new Error(`--concept ${folders.concept}: needs at least 2 readable images, found ${nPos}.`);
    if (nNeg < 4) throw new Error(`--negatives ${folders.negatives}: needs at least 4 readable images (random CAVs split them in two), found ${nNeg}.`);

    say(`learning ${runs} concept CAVs and ${runs} random CAVs (${method})`);
    const pos = rows(concept);
    const neg = rows(negatives);
    const cavs = tcavCavs({ dim, pos, nPos, neg, nNeg }, { method: cavMethod, runs, seed });
    const folds = Math.min(FOLDS, nPos, nNeg);
    const accuracy = cavAccuracy(cavMethod, pos, neg, dim, { folds, seed });

    const wanted = given ?? mostPredicted(inputs.predicted, AUTO_CLASSES);
    const members = wanted.map((k) => {
      const indices: number[] = [];
      inputs.predicted.forEach((c, i) => c === k && indices.push(i));
      return indices;
    });
    const classesTested = members.filter((m) => m.length >= 2).length;
    const classes: TcavClassReport[] = [];
    for (let c = 0; c < wanted.length; c++) {
      const classIndex = wanted[c];
      const chosen = members[c];
      const base = { classIndex, className: model.classNames?.[classIndex] ?? `class ${classIndex}`, inputs: chosen.length, inputNames: chosen.map((i) => inputs.names[i]) };
      if (chosen.length < 2) {
        classes.push({ ...base, score: null, randomMean: null, randomStd: null, p: null, pBonferroni: null, significant: false, skipped: `${chosen.length} input(s) predicted as this class; TCAV needs at least 2` });
        continue;
      }
      say(`class ${classIndex} (${base.className}): gradients of ${chosen.length} input(s)`);
      const gradients = await classGradients(model, layer.name, await preparedInputs(model, providers.inputs, inputs.names, chosen, options.preprocessing), classIndex, { sites: 'pooled' });
      const test = tcavTest({ gradients, n: chosen.length, dim, concept: cavs.concept, randomConcepts: cavs.random, alpha: ALPHA, classesTested });
      classes.push({ ...base, score: test.score, randomMean: test.randomMean, randomStd: test.randomStd, p: test.p, pBonferroni: bonferroni(test.p, classesTested), significant: test.significant });
    }

    const unreadable = (Object.keys(folders) as (keyof typeof folders)[]).flatMap((flag) =>
      ({ concept, negatives, inputs })[flag].errors.map((e) => ({ folder: folders[flag], name: e.name, reason: e.reason })),
    );
    return {
      version: TCAV_FILE_VERSION,
      model: model.name,
      layer: layer.name,
      layerDim: dim,
      backend: backend.name,
      concept: { folder: folders.concept, count: nPos },
      negatives: { folder: folders.negatives, count: nNeg },
      inputs: { folder: folders.inputs, count: inputs.table.count },
      method,
      runs,
      seed,
      cavAccuracy: accuracy,
      cavAccuracyFolds: folds,
      classSelection: given ? 'given' : 'auto',
      inputSelection: "each class is tested on the inputs the model predicts as that class (top-1); classes with fewer than 2 such inputs are skipped",
      alpha: ALPHA,
      classesTested,
      threshold: classesTested > 0 ? ALPHA / classesTested : ALPHA,
      classes,
      unreadable,
    };
  } finally {
    model.dispose();
  }
}

/** The readable table `npm run tcav` prints. */
export function formatTcavTable(report: TcavReport): string {
  const lines = [
    `TCAV at ${report.model} / ${report.layer} (${report.layerDim}-d, pooled), ${report.method} CAVs, ${report.runs} runs, seed ${report.seed}`,
    `concept ${report.concept.folder} (${report.concept.count}) vs negatives ${report.negatives.folder} (${report.negatives.count}); ` +
      `CAV accuracy ${report.cavAccuracy.toFixed(3)} (${report.cavAccuracyFolds}-fold)`,
    `inputs ${report.inputs.folder} (${report.inputs.count}); ${report.classesTested} class(es) tested, significant when p < ${report.alpha} / ${report.classesTested || 1} = ${report.threshold.toPrecision(3)}`,
    '',
  ];
  const header = ['class', 'name', 'inputs', 'score', 'random mean ± std', 'p', 'p (Bonf.)', 'significant'];
  const body = report.classes.map((c) =>
    c.skipped
      ? [String(c.classIndex), c.className, String(c.inputs), '-', '-', '-', '-', `skipped: ${c.skipped}`]
      : [String(c.classIndex), c.className, String(c.inputs), c.score!.toFixed(3), `${c.randomMean!.toFixed(3)} ± ${c.randomStd!.toFixed(3)}`, formatP(c.p!), formatP(c.pBonferroni!), c.significant ? 'yes' : 'no'],
  );
  const widths = header.map((h, j) => Math.max(h.length, ...body.map((r) => (j === 1 ? Math.min(r[j].length, 28) : r[j].length))));
  const row = (cells: string[]) => cells.map((cell, j) => (j === 1 && cell.length > 28 ? `${cell.slice(0, 27)}…` : cell).padEnd(widths[j])).join('  ').trimEnd();
  lines.push(row(header), row(widths.map((w) => '-'.repeat(w))), ...body.map(row));
  return `${lines.join('\n')}\n`;
}

const formatP = (p: number) => (p === 0 ? '0' : p < 1e-3 ? p.toExponential(1) : p.toFixed(3));

async function imageFolder(flag: string, folder: string): Promise<ImageProvider> {
  const info = await stat(folder).catch(() => null);
  if (!info) throw new Error(`--${flag} ${folder} does not exist.`);
  if (!info.isDirectory()) throw new Error(`--${flag} ${folder} is not a folder.`);
  const provider = await folderProvider(folder);
  if (provider.count === 0) throw new Error(`--${flag} ${folder} holds no files.`);
  return provider;
}
