/**
 * The image side of npm run steer and npm run ablate (issue 20): the images read once and split (seeded) into a
 * held-in part, which the class's concept and every direction's scale are learnt from, and a held-out part, which
 * the effects are measured on.
 */
import { stat, writeFile } from 'node:fs/promises';
import { fitConcept } from '../compute/directions/concept';
import type { VersusRandom } from '../compute/directions/stats';
import { gatherRows, unitVector } from '../compute/directions/vectors';
import type { ImageModel } from '../model/image/imageModel';
import { layerMoments, layerWidth, splitImages, type LabelledImages, type LayerMoments } from '../model/image/intervention';
import type { ImageProvider } from '../model/image/recordImages';
import { bundledSample, loadModelForCli } from './buildAtlas';
import { printNotes } from './cliText';
import { directionOf, type DirectionSources } from './directions';
import { folderProvider } from './nodeIo';

/** What the image branch of steer and ablate share. */
export interface ImageInterventionOptions {
  /** 'sample' (the bundled Fashion-MNIST sample, for the built-in model) or a folder of class sub-folders. */
  images: string;
  /** A class-names file for a model without them (read when the model is loaded). */
  labels?: string;
  /** The class whose probability and accuracy are measured: a class name of the model, or its index. */
  className: string;
  /** The model's layer; default: its default layer. */
  layer?: string;
  /** class:NAME (default: class:<className>), the concept learnt from the held-in images, or any directionOf spec. */
  direction?: string;
  /** The share of the images held out (measured on), 0 < f < 1; default 0.5. */
  heldOut?: number;
  /** The split's and the controls' seed. */
  seed: number;
  sources: DirectionSources;
}

/** Which images were used how; travels into the report. */
export interface ImagesUsed {
  source: string;
  /** Readable images, and the files that could not be read (the rest went through). */
  count: number;
  unreadable: { name: string; reason: string }[];
  seed: number;
  /** Images the concept and the scales were learnt from, and images the effects were measured on (disjoint). */
  heldIn: number;
  heldOut: number;
}

/** A class concept: the difference of the means of the held-in images' pooled rows, the class's against the rest. */
export interface ClassConcept {
  className: string;
  positives: number;
  negatives: number;
  /** Balanced k-fold accuracy of the concept's classifier on the held-in rows (null with too few). */
  accuracy: number | null;
  folds: number;
}

export interface ImageSetup {
  layer: string;
  classIndex: number;
  className: string;
  /** Unit direction, the layer's width. */
  direction: Float32Array;
  directionSpec: string;
  concept?: ClassConcept;
  heldIn: LabelledImages;
  heldOut: LabelledImages;
  /** The held-in images' moments at the layer: scales and units' means. */
  moments: LayerMoments;
  used: ImagesUsed;
}

/** The provider --images names: the bundled sample, or a folder whose sub-folders are the labels. */
async function imagesOf(images: string): Promise<ImageProvider> {
  if (images === 'sample') return bundledSample();
  const info = await stat(images).catch(() => null);
  if (!info?.isDirectory()) throw new Error(`--images ${images} is not a folder (or "sample" for the bundled sample).`);
  const provider = await folderProvider(images);
  if (provider.count === 0) throw new Error(`--images ${images} holds no files.`);
  return provider;
}

/** The class --class names: a class name of the model, or an index. */
export function classIndexOf(model: ImageModel, name: string): number {
  if (model.outputSize === 0) throw new Error(`Model "${model.name}" has no class output.`);
  const byName = model.classNames?.indexOf(name) ?? -1;
  if (byName >= 0) return byName;
  const k = Number(name);
  if (name.trim() !== '' && Number.isInteger(k) && k >= 0 && k < model.outputSize) return k;
  const known = model.classNames ? `its classes are ${model.classNames.map((c) => `"${c}"`).join(', ')}` : `it has classes 0..${model.outputSize - 1} (no names)`;
  throw new Error(`--class "${name}" is not a class of model "${model.name}": ${known}.`);
}

/** Reads, splits and records the images, and resolves the direction. */
export async function imageSetup(options: ImageInterventionOptions, model: ImageModel): Promise<ImageSetup> {
  const heldOutShare = options.heldOut ?? 0.5;
  if (!(heldOutShare > 0 && heldOutShare < 1)) throw new Error(`--held-out must be a share between 0 and 1; got ${heldOutShare}.`);
  const layer = model.layer(options.layer ?? model.defaultLayer).name;
  const width = layerWidth(model, layer);
  const classIndex = classIndexOf(model, options.className);
  const className = model.classNames?.[classIndex] ?? String(classIndex);
  const provider = await imagesOf(options.images);

  const { heldIn, heldOut, count, unreadable } = await splitImages(model, provider, { heldOut: heldOutShare, seed: options.seed }).catch((e: Error) => {
    throw new Error(`--images ${options.images}: ${e.message}`);
  });
  const labels = [...heldIn.labels, ...heldOut.labels];
  if (!labels.includes(classIndex)) {
    const found = [...new Set(labels.filter((l) => l >= 0).map((l) => model.classNames?.[l] ?? String(l)))];
    throw new Error(`No image of --images ${options.images} is labelled "${className}"${found.length ? `; its labels that are classes of the model: ${found.join(', ')}` : ': none of its sub-folders is named after a class of the model'}.`);
  }
  const moments = layerMoments(model, layer, heldIn);

  const directionSpec = options.direction ?? `class:${className}`;
  let direction: Float32Array;
  let concept: ClassConcept | undefined;
  if (directionSpec.startsWith('class:')) {
    const name = directionSpec.slice('class:'.length);
    const k = classIndexOf(model, name);
    const pos: number[] = [];
    const neg: number[] = [];
    heldIn.labels.forEach((label, r) => (label === k ? pos : neg).push(r));
    if (pos.length === 0 || neg.length === 0) throw new Error(`--direction ${directionSpec}: the held-in images hold ${pos.length} of the class and ${neg.length} others; both are needed.`);
    const rows = (list: number[]) => gatherRows(moments.pooled, list, width);
    const fit = fitConcept({ dim: width, pos: rows(pos), nPos: pos.length, neg: rows(neg), nNeg: neg.length }, 'difference-of-means', options.seed);
    direction = unitVector(fit.direction);
    if (!direction.some((x) => x !== 0)) throw new Error(`--direction ${directionSpec}: the class's mean equals the others' at ${layer}.`);
    concept = { className: model.classNames?.[k] ?? String(k), positives: pos.length, negatives: neg.length, accuracy: fit.accuracy, folds: fit.folds };
  } else {
    if (directionSpec.startsWith('texts:')) throw new Error('--direction texts: learns from texts, for a GPT-2; with --images give class:NAME.');
    direction = await directionOf(directionSpec, width, layer, { ...options.sources, modality: 'image' });
  }
  return {
    layer,
    classIndex,
    className,
    direction,
    directionSpec,
    ...(concept ? { concept } : {}),
    heldIn,
    heldOut,
    moments,
    used: { source: options.images === 'sample' ? 'bundled sample (public/sample)' : options.images, count, unreadable, seed: options.seed, heldIn: heldIn.count, heldOut: heldOut.count },
  };
}

/** --held-out's value: a share strictly between 0 and 1. */
export function heldOutShare(value: string): number {
  const share = Number(value);
  if (!(value.trim() !== '' && share > 0 && share < 1)) throw new Error(`--held-out must be a share between 0 and 1 (exclusive); got "${value}".`);
  return share;
}

/** The image branch of steer and ablate: loads the model, runs the command, writes its report, prints its summary and the unreadable files. */
export async function runImageCommand<R extends { images: ImagesUsed }>(
  options: { model: string; labels?: string },
  out: string,
  run: (model: ImageModel) => Promise<R>,
  summary: (report: R) => string,
): Promise<void> {
  const model = await loadModelForCli(options.model, { labels: options.labels });
  try {
    const report = await run(model);
    await writeFile(out, `${JSON.stringify(report, null, 2)}\n`);
    process.stdout.write(`${summary(report)}wrote ${out}\n`);
    printNotes([], report.images.unreadable);
  } finally {
    model.dispose();
  }
}

/** A test against random directions as the terminal shows it: the prediction test's t and both one-sided p-values. */
export function significanceText(d: VersusRandom): string {
  return `t ${d.t.toFixed(2)} (${d.df} df), one-sided p (t) ${d.pT.toExponential(2)}, p (rank) ${d.pRank.toFixed(3)}`;
}

/** The line on the class concept a report's direction was learnt as, if it was. */
export function conceptLine(concept: ClassConcept | undefined): string {
  return concept ? `  concept learnt from ${concept.positives} held-in images of the class against ${concept.negatives} others (k-fold accuracy ${concept.accuracy?.toFixed(3) ?? 'n/a'})\n` : '';
}
