import { writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import type { InputError } from '../compute/atlas';
import type { ProgressEvent } from '../compute/types';
import { chooseBackend } from '../model/backend';
import { imageNeuronLayers, recordImageNeuronInputs, type ImageNeuronInputs } from '../model/directions/imageNeuronInputs';
import { recordNeuronInputs, type NeuronInputs } from '../model/directions/neuronInputs';
import {
  DEFAULT_MAX_EXAMPLES,
  DEFAULT_MIN_MEMBERS,
  defaultThreshold,
  EXAMPLE_FRACTION,
  measurePolysemanticity,
  type LayerPolysemanticity,
  type NeuronMeasure,
} from '../model/directions/polysemanticity';
import type { ImageModel } from '../model/image/imageModel';
import type { ImageProvider } from '../model/image/recordImages';
import { encodeSae } from '../model/sae/encode';
import { measureLatentPolysemanticity } from '../model/sae/latentPolysemanticity';
import { documentsFromFiles, splitNotice, windows as windowsOf } from '../model/text/documents';
import { encode, tokenContext } from '../model/text/tokenizer';
import { bundledSample, loadModelForCli, loadTextModelForCli } from './buildAtlas';
import { printNotes } from './cliText';
import { folderProvider, textFilesFromPath } from './nodeIo';
import { openSaeForLayer, readSaeFolder, type SaeFolderFiles } from './saeFolder';

/** Tokens before an example shown as its context. */
const CONTEXT_TOKENS = 8;

const USAGE = `Polysemanticity of a model's neurons by neuron embeddings (Foote 2024): GPT-2 MLP neurons, or the
convolution and Dense neurons of an image model; writes a JSON report.

  npm run neurons -- --text <file|dir> --layer h.1.mlp.act [--model <dir>] [--out neurons.json]
  npm run neurons -- --images <dir|sample> --layer conv3 [--model <dir>] [--out neurons.json]

  --text <file|dir>       .txt (one document per paragraph) or .jsonl, or a folder of them: GPT-2 neurons
  --images <dir|sample>   a folder of images (sub-folders give labels), or "sample" for the bundled Fashion-MNIST
                          sample (built-in model only): image-model neurons. Exactly one of --text and --images.
  --model <dir|default>   with --text, a GPT-2 folder (config.json + safetensors), default models/text-gpt2;
                          with --images, a TF.js layers model folder (model.json), default models/fashion-cnn
  --layer <name>          text: h.I.mlp.act, default the middle block's; images: a Conv2D or Dense layer, or an
                          activation layer after one (directly or through a BatchNormalization), default the
                          model's atlas layer where it qualifies, else the last one that does
  --threshold <t>         cosine similarity that joins two examples' embeddings; default: ${defaultThreshold('text')} (text), ${defaultThreshold('image')} (images)
  --min-members <m>       examples a cluster needs to count towards polysemanticity; default: ${DEFAULT_MIN_MEMBERS}
  --neurons <list|all>    neurons to measure, e.g. 0-255, 3,17,40-47 or all; default: all
  --max-tokens <N>        text: record at most N tokens (the first, in document order); default: all
  --max-images <N>        images: record only the first N images; default: all
  --max-rows <N>          images: record at most N (image, position) rows, a seeded choice of positions per image;
                          default: 200,000, fewer where a row is wide (64 Mi values in all)
  --seed <s>              images: seed of that choice; default: 0
  --max-examples <k>      cluster at most k examples per neuron, the most active; default: ${DEFAULT_MAX_EXAMPLES}
  --contexts <k>          examples kept for each of a neuron's 3 largest clusters (text: with their context); default: 3
  --sae <dir>             an SAE of this layer in SAELens's files (npm run sae writes them): its latents are measured
                          on the same rows, the same way, with a latent's encoder column as its input weights (Foote's
                          suggestion for evaluating SAEs); both histograms are printed side by side
  --out <file>            output JSON; default: neurons.json
`;

/** A recorded token shown as an example of a cluster. */
export interface ExampleContext {
  document: string;
  /** Position of the token in its window (window token 0 is <|endoftext|>). */
  position: number;
  token: string;
  /** Up to 8 tokens before it, then the token in [brackets]. */
  context: string;
  activation: number;
}

/** A recorded (image, position) shown as an example of a cluster. */
export interface ImageExample {
  image: string;
  label: string | null;
  /** Flat row-major index in the layer's [H, W], with its row and column; -1 (and no y, x) for a Dense layer. */
  position: number;
  y?: number;
  x?: number;
  activation: number;
}

export interface NeuronReport<Example = ExampleContext> {
  index: number;
  maxActivation: number;
  examples: number;
  /** Examples clustered: all of them, or the --max-examples most active. */
  clusteredExamples: number;
  /** Cluster sizes, largest first (their sum is clusteredExamples). */
  clusters: number[];
  polysemanticity: number;
  /** For each of the 3 largest clusters, its most active examples. */
  topClusters: Example[][];
}

/** One latent measured as a neuron (--sae). */
export interface LatentReport {
  index: number;
  examples: number;
  clusteredExamples: number;
  /** Cluster sizes, largest first; at most 8 listed. */
  clusters: number[];
  polysemanticity: number;
}

/** An SAE's latents measured on the neurons' rows with the neurons' settings (--sae). */
export interface LatentsSection {
  /** The --sae folder. */
  sae: string;
  architecture: string;
  /** Latents active per row (TopK), null for a ReLU SAE. */
  k: number | null;
  dSae: number;
  /** histogram[k] latents have k clusters of at least minMembers examples, as the neurons' histogram. */
  histogram: number[];
  /** Latents with no example (never active on these rows). */
  deadLatents: number;
  meanPolysemanticity: number;
  /** Latents with more than maxExamples examples (only the most active were clustered). */
  capped: number;
  latents: LatentReport[];
}

/** What both modalities' reports share. */
interface NeuronsFileCommon {
  version: 1;
  kind: 'neuron-polysemanticity';
  model: string;
  layer: string;
  threshold: number;
  minMembers: number;
  exampleFraction: number;
  maxExamples: number;
  /** Neurons by polysemanticity: histogram[k] neurons have k clusters of at least minMembers examples. */
  histogram: number[];
  /** Neurons with no example (never positive on these inputs). */
  deadNeurons: number;
  meanPolysemanticity: number;
  /** Only with --sae: the SAE's latents, measured on the same rows. */
  latents?: LatentsSection;
  notices: string[];
  errors: InputError[];
}

/** The report on a GPT-2's MLP neurons (it has no `modality`: it predates the image report). */
export interface NeuronsFile extends NeuronsFileCommon {
  documents: number;
  windows: number;
  /** Tokens recorded, and those the documents hold (more when --max-tokens capped them). */
  tokens: number;
  tokensAvailable: number;
  neurons: NeuronReport[];
}

/** The report on an image model's neurons. */
export interface ImageNeuronsFile extends NeuronsFileCommon {
  modality: 'image';
  /** The Conv2D or Dense whose weights the neurons read, and a BatchNormalization folded into them. */
  weightsLayer: string;
  batchNorm: string | null;
  /** [H, W] of a convolution's positions; [] for a Dense layer. */
  positionShape: number[];
  /** Images given (after --max-images) and those read. */
  images: number;
  imagesRead: number;
  /** (image, position) rows recorded, and those the images read hold (more when --max-rows capped them). */
  rows: number;
  rowsAvailable: number;
  neurons: NeuronReport<ImageExample>[];
}

interface CommonOptions {
  model: string;
  layer?: string;
  threshold?: number;
  minMembers?: number;
  /** Neuron ids; all unless given. */
  neurons?: number[];
  maxExamples?: number;
  contexts?: number;
  /** A folder with an SAE of the layer in SAELens's files: its latents are measured too. */
  sae?: string;
  onProgress?: (event: ProgressEvent) => void;
}

export interface NeuronsOptions extends CommonOptions {
  text: string;
  maxTokens?: number;
}

export interface ImageNeuronsOptions extends CommonOptions {
  /** An image folder, or 'sample' for the bundled sample. */
  images: string;
  maxImages?: number;
  maxRows?: number;
  seed?: number;
}

/** Records the documents at an MLP layer and measures each neuron's polysemanticity. */
export async function measureNeurons(options: NeuronsOptions): Promise<NeuronsFile> {
  await chooseBackend({ node: true });
  const saeFiles = options.sae !== undefined ? await readSaeFolder(options.sae) : null;
  const read = documentsFromFiles(await textFilesFromPath(options.text));
  if (read.documents.length === 0) {
    const firstError = read.errors[0];
    throw new Error(`No documents in ${options.text}${firstError ? ` (${firstError.name}: ${firstError.reason})` : ': it holds no files'}.`);
  }
  const model = await loadTextModelForCli(options.model);
  try {
    const layer = options.layer ?? model.defaultLayer;
    const notices: string[] = [];
    const tokenIds: Int32Array[] = [];
    const names: string[] = [];
    let split = 0;
    let splitWindows = 0;
    for (const doc of read.documents) {
      const docWindows = windowsOf(encode(doc.text), model.contextLength);
      if (docWindows.length > 1) [split, splitWindows] = [split + 1, splitWindows + docWindows.length];
      docWindows.forEach((ids, k) => {
        tokenIds.push(ids);
        names.push(docWindows.length === 1 ? doc.name : `${doc.name} [window ${k + 1}/${docWindows.length}]`);
      });
    }
    if (split > 0) notices.push(splitNotice(split, splitWindows, model.contextLength));
    const recorded = await recordNeuronInputs(model, tokenIds, layer, { maxTokens: options.maxTokens, onProgress: options.onProgress });
    if (recorded.count === 0) throw new Error(`The documents in ${options.text} hold no tokens to record.`);
    if (recorded.count < recorded.available) {
      notices.push(`--max-tokens: recorded the first ${recorded.count.toLocaleString('en')} of ${recorded.available.toLocaleString('en')} tokens.`);
    }
    const { settings, measured } = await measure(recorded, 'text', options, notices);
    const latents = saeFiles ? await measureLatents(saeFiles, 'text', recorded, settings, notices) : null;
    const contexts = options.contexts ?? 3;
    return {
      version: 1,
      kind: 'neuron-polysemanticity',
      model: model.info.name,
      layer,
      ...settings,
      documents: read.documents.length,
      windows: tokenIds.length,
      tokens: recorded.count,
      tokensAvailable: recorded.available,
      ...distribution(measured),
      ...(latents ? { latents } : {}),
      notices,
      errors: read.errors,
      neurons: measured.neurons.map((n) =>
        neuronReport(n, recorded, contexts, (row, activation): ExampleContext => {
          const w = recorded.window[row];
          const t = recorded.position[row];
          return { document: names[w], position: t, ...tokenContext(tokenIds[w], t, CONTEXT_TOKENS), activation };
        }),
      ),
    };
  } finally {
    model.dispose();
  }
}

/** Records images at a convolution, Dense or activation layer of an image model and measures each neuron's polysemanticity. */
export async function measureImageNeurons(options: ImageNeuronsOptions): Promise<ImageNeuronsFile> {
  await chooseBackend({ node: true });
  const saeFiles = options.sae !== undefined ? await readSaeFolder(options.sae) : null;
  const model = await loadModelForCli(options.model);
  try {
    let images: ImageProvider;
    if (options.images === 'sample') {
      if (options.model !== 'default') throw new Error('--images sample: the bundled sample only fits the built-in model; pass --images <folder>.');
      images = await bundledSample();
    } else {
      images = await folderProvider(options.images);
    }
    if (images.count === 0) throw new Error(`--images ${options.images} holds no files.`);
    if (options.maxImages !== undefined && options.maxImages < images.count) images = { ...images, count: options.maxImages };
    const layer = options.layer ?? defaultImageLayer(model);
    const recorded = await recordImageNeuronInputs(model, images, layer, { maxRows: options.maxRows, seed: options.seed, onProgress: options.onProgress });
    const notices = [...recorded.notices];
    const { settings, measured } = await measure(recorded, 'image', options, notices);
    const latents = saeFiles ? await measureLatents(saeFiles, 'image', recorded, settings, notices) : null;
    const contexts = options.contexts ?? 3;
    const [, w] = recorded.positionShape;
    return {
      version: 1,
      kind: 'neuron-polysemanticity',
      modality: 'image',
      model: model.name,
      layer,
      weightsLayer: recorded.weightsLayer,
      batchNorm: recorded.batchNorm,
      ...settings,
      positionShape: recorded.positionShape,
      images: images.count,
      imagesRead: images.count - recorded.errors.length,
      rows: recorded.count,
      rowsAvailable: recorded.available,
      ...distribution(measured),
      ...(latents ? { latents } : {}),
      notices,
      errors: recorded.errors,
      neurons: measured.neurons.map((n) =>
        neuronReport(n, recorded, contexts, (row, activation): ImageExample => {
          const i = recorded.window[row];
          const p = recorded.position[row];
          const where = p >= 0 ? { y: Math.floor(p / w), x: p % w } : {};
          return { image: images.name(i), label: images.label(i), position: p, ...where, activation };
        }),
      ),
    };
  } finally {
    model.dispose();
  }
}

/** The model's atlas layer where its neurons have embeddings, else the last layer whose neurons do. */
function defaultImageLayer(model: ImageModel): string {
  const measurable = imageNeuronLayers(model);
  if (measurable.includes(model.defaultLayer)) return model.defaultLayer;
  if (measurable.length === 0) throw new Error(`No layer of "${model.name}" has neuron embeddings: it needs a Conv2D or Dense layer (a layers model, not a graph model).`);
  return measurable[measurable.length - 1];
}

/** The shared loop with the CLI's defaults; notes when --max-examples capped some neurons. */
async function measure(recorded: NeuronInputs, kind: 'text' | 'image', options: CommonOptions, notices: string[]) {
  const settings = {
    threshold: options.threshold ?? defaultThreshold(kind),
    minMembers: options.minMembers ?? DEFAULT_MIN_MEMBERS,
    exampleFraction: EXAMPLE_FRACTION,
    maxExamples: options.maxExamples ?? DEFAULT_MAX_EXAMPLES,
  };
  const outside = options.neurons?.find((n) => n >= recorded.width);
  if (outside !== undefined) throw new Error(`--neurons: ${recorded.layer} has neurons 0-${recorded.width - 1}; got ${outside}.`);
  const measured = await measurePolysemanticity(recorded, {
    threshold: settings.threshold,
    minMembers: settings.minMembers,
    fraction: settings.exampleFraction,
    maxExamples: settings.maxExamples,
    neurons: options.neurons,
    onProgress: options.onProgress,
  });
  const { maxExamples } = settings;
  if (measured.capped > 0) notices.push(`${measured.capped} neuron(s) had more than ${maxExamples} examples: only their ${maxExamples} most active were clustered (--max-examples).`);
  return { settings, measured };
}

/**
 * The SAE's latents measured as the neurons are, on the same rows (the layer's activations the neurons output) with
 * the same clustering settings; a latent's embedding reads its encoder column (measureLatentPolysemanticity).
 */
async function measureLatents(
  files: SaeFolderFiles,
  modality: 'text' | 'image',
  recorded: NeuronInputs,
  settings: { threshold: number; minMembers: number; exampleFraction: number; maxExamples: number },
  notices: string[],
): Promise<LatentsSection> {
  const sae = openSaeForLayer(files, modality, recorded.layer, recorded.width);
  const activations = recorded.activations.subarray(0, recorded.count * recorded.width);
  const encoded = await encodeSae(sae, activations);
  const poly = await measureLatentPolysemanticity(sae, activations, encoded, {
    threshold: settings.threshold,
    minMembers: settings.minMembers,
    fraction: settings.exampleFraction,
    maxExamples: settings.maxExamples,
  });
  if (poly.capped > 0) notices.push(`${poly.capped} latent(s) had more than ${settings.maxExamples} examples: only their ${settings.maxExamples} most active were clustered (--max-examples).`);
  return {
    sae: files.folder,
    architecture: sae.config.architecture,
    k: sae.config.architecture === 'topk' ? sae.config.k! : null,
    dSae: sae.config.dSae,
    histogram: poly.histogram,
    deadLatents: poly.deadLatents,
    meanPolysemanticity: poly.meanPolysemanticity,
    capped: poly.capped,
    latents: poly.latents.map((l) => ({ index: l.index, examples: l.examples, clusteredExamples: l.clusteredExamples, clusters: l.clusters.slice(0, 8), polysemanticity: l.polysemanticity })),
  };
}

/** Units per number of clusters in the bins 0, 1, 2, 3 and 4+, with the share of all units. */
export function histogramBins(histogram: readonly number[]): { bin: string; count: number; share: number }[] {
  const total = histogram.reduce((a, b) => a + b, 0);
  const bins = [0, 1, 2, 3].map((k) => ({ bin: String(k), count: histogram[k] ?? 0 }));
  bins.push({ bin: '4+', count: histogram.slice(4).reduce((a, b) => a + b, 0) });
  return bins.map((b) => ({ ...b, share: total ? b.count / total : NaN }));
}

/** The neurons' and latents' histograms side by side: units (and their share) with 0, 1, 2, 3 and 4+ clusters. */
export function histogramsSideBySide(file: NeuronsFile | ImageNeuronsFile): string {
  const rows: [string, readonly number[], number][] = [[`neurons (${file.neurons.length})`, file.histogram, file.meanPolysemanticity]];
  if (file.latents) rows.push([`latents (${file.latents.dSae})`, file.latents.histogram, file.latents.meanPolysemanticity]);
  const header = ['clusters per unit', ...histogramBins([]).map((b) => b.bin), 'mean'];
  const body = rows.map(([name, histogram, mean]) => [name, ...histogramBins(histogram).map((b) => `${b.count} (${(100 * b.share).toFixed(1)}%)`), mean.toFixed(2)]);
  const widths = header.map((h, j) => Math.max(h.length, ...body.map((r) => r[j].length)));
  const row = (cells: string[]) => cells.map((cell, j) => (j === 0 ? cell.padEnd(widths[j]) : cell.padStart(widths[j]))).join('  ');
  return [row(header), ...body.map(row)].join('\n') + '\n';
}

function distribution(measured: LayerPolysemanticity): Pick<NeuronsFileCommon, 'histogram' | 'deadNeurons' | 'meanPolysemanticity'> {
  return { histogram: measured.histogram, deadNeurons: measured.deadNeurons, meanPolysemanticity: measured.meanPolysemanticity };
}

/** A measured neuron with the most active examples of its 3 largest clusters. */
function neuronReport<Example>(
  neuron: NeuronMeasure,
  recorded: NeuronInputs | ImageNeuronInputs,
  contexts: number,
  example: (row: number, activation: number) => Example,
): NeuronReport<Example> {
  const { width, activations } = recorded;
  return {
    index: neuron.index,
    maxActivation: neuron.maxActivation,
    examples: neuron.examples,
    clusteredExamples: neuron.clusteredExamples,
    clusters: neuron.clusters.map((c) => c.length),
    polysemanticity: neuron.polysemanticity,
    topClusters: neuron.clusters.slice(0, 3).map((rows) => Array.from(rows.subarray(0, contexts), (row) => example(row, activations[row * width + neuron.index]))),
  };
}

/** Neuron ids from "all" or a list of ids and ranges such as 0-15,32,40-47. */
export function parseNeurons(value: string): number[] | undefined {
  if (value === 'all') return undefined;
  const ids = new Set<number>();
  for (const part of value.split(',')) {
    const match = /^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$/.exec(part);
    if (!match) throw new Error(`--neurons must be "all" or a list such as 0-255 or 3,17,40-47; got "${value}".`);
    const [from, to] = [Number(match[1]), Number(match[2] ?? match[1])];
    if (to < from) throw new Error(`--neurons: the range ${part.trim()} runs backwards.`);
    for (let n = from; n <= to; n++) ids.add(n);
  }
  return [...ids].sort((a, b) => a - b);
}

function number(value: string, flag: string, min: number, max = Infinity): number {
  const v = Number(value);
  if (value.trim() === '' || !Number.isFinite(v) || v < min || v > max) {
    throw new Error(`${flag} must be a number${max < Infinity ? ` from ${min} to ${max}` : ` of at least ${min}`}; got "${value}".`);
  }
  return v;
}

function integer(value: string, flag: string, min: number): number {
  const v = number(value, flag, min);
  if (!Number.isInteger(v)) throw new Error(`${flag} must be a whole number; got "${value}".`);
  return v;
}

/** The report in a few lines: the distribution, then the most polysemantic neurons with an example of each cluster. */
export function summary(file: NeuronsFile | ImageNeuronsFile, top = 8): string {
  const over =
    'modality' in file
      ? `${file.rows.toLocaleString('en')} (image, position) rows of ${file.imagesRead} images`
      : `${file.tokens.toLocaleString('en')} tokens of ${file.documents} documents`;
  const lines = [
    `${file.layer} of ${file.model}: ${file.neurons.length} neurons over ${over} (threshold ${file.threshold}, clusters of at least ${file.minMembers})`,
    `polysemanticity: ${file.histogram.map((n, k) => `${k}: ${n}`).join(', ')}; mean ${file.meanPolysemanticity.toFixed(2)}; ${file.deadNeurons} neuron(s) with no example`,
  ];
  if (file.latents) {
    const { latents } = file;
    lines.push(
      `latents of the SAE in ${latents.sae} (${latents.architecture}${latents.k !== null ? `, k ${latents.k}` : ''}): ${latents.histogram.map((n, k) => `${k}: ${n}`).join(', ')}; ` +
        `mean ${latents.meanPolysemanticity.toFixed(2)}; ${latents.deadLatents} latent(s) with no example`,
      '',
      histogramsSideBySide(file).trimEnd(),
      '',
    );
  }
  const neurons: NeuronReport<ExampleContext | ImageExample>[] = file.neurons;
  const ranked = [...neurons].sort((a, b) => b.polysemanticity - a.polysemanticity || a.index - b.index).slice(0, top);
  if (ranked.length && ranked[0].polysemanticity > 0) lines.push('most polysemantic:');
  for (const n of ranked) {
    if (n.polysemanticity === 0) break;
    const shown = n.topClusters.map((c, k) => `${n.clusters[k]}x ${c[0] ? exampleText(c[0]) : '""'}`).join('  ');
    lines.push(`  neuron ${n.index}: ${n.polysemanticity} (clusters ${n.clusters.slice(0, 6).join(', ')}${n.clusters.length > 6 ? ', ...' : ''} of ${n.examples} examples)  ${shown}`);
  }
  return lines.join('\n') + '\n';
}

function exampleText(e: ExampleContext | ImageExample): string {
  if ('context' in e) return JSON.stringify(e.context);
  return e.y === undefined ? e.image : `${e.image}@(${e.y},${e.x})`;
}

function progress(event: ProgressEvent): void {
  if (event.done === event.total) process.stderr.write(`${event.stage} ${event.done}/${event.total}\n`);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      model: { type: 'string', default: 'default' },
      text: { type: 'string' },
      images: { type: 'string' },
      layer: { type: 'string' },
      threshold: { type: 'string' },
      'min-members': { type: 'string' },
      neurons: { type: 'string', default: 'all' },
      'max-tokens': { type: 'string' },
      'max-images': { type: 'string' },
      'max-rows': { type: 'string' },
      seed: { type: 'string' },
      'max-examples': { type: 'string' },
      contexts: { type: 'string', default: '3' },
      sae: { type: 'string' },
      out: { type: 'string', default: 'neurons.json' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(USAGE);
    return;
  }
  if (values.images !== undefined && values.text !== undefined) throw new Error('Pass --text or --images, not both.');
  if (values.images === undefined && values.text === undefined) throw new Error('Pass --text <file|dir> with documents, or --images <dir|sample> with images, to record (see --help).');
  const onlyFor = (flag: string, modality: string) => {
    throw new Error(`${flag} is for ${modality} (see --help).`);
  };
  if (values.text !== undefined) for (const flag of ['max-images', 'max-rows', 'seed'] as const) if (values[flag] !== undefined) onlyFor(`--${flag}`, '--images');
  if (values.images !== undefined && values['max-tokens'] !== undefined) onlyFor('--max-tokens', '--text');
  const started = performance.now();
  const common = {
    model: values.model,
    layer: values.layer,
    threshold: values.threshold === undefined ? undefined : number(values.threshold, '--threshold', -1, 1),
    minMembers: values['min-members'] === undefined ? undefined : integer(values['min-members'], '--min-members', 1),
    neurons: parseNeurons(values.neurons),
    maxExamples: values['max-examples'] === undefined ? undefined : integer(values['max-examples'], '--max-examples', 1),
    contexts: integer(values.contexts, '--contexts', 0),
    sae: values.sae,
    onProgress: progress,
  };
  const optional = (flag: 'max-tokens' | 'max-images' | 'max-rows' | 'seed', min: number) => (values[flag] === undefined ? undefined : integer(values[flag], `--${flag}`, min));
  const file =
    values.text !== undefined
      ? await measureNeurons({ ...common, text: values.text, maxTokens: optional('max-tokens', 1) })
      : await measureImageNeurons({ ...common, images: values.images!, maxImages: optional('max-images', 1), maxRows: optional('max-rows', 1), seed: optional('seed', 0) });
  await writeFile(values.out, JSON.stringify(file, null, 1));
  printNotes(file.notices, file.errors);
  process.stdout.write(summary(file));
  process.stdout.write(`wrote ${values.out} in ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
}

main().catch((e: Error) => {
  process.stderr.write(`\nerror: ${e.message}\n`);
  process.exitCode = 1;
});
