import { mkdir, writeFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { basename, join } from 'node:path';
import { parseArgs } from 'node:util';
import type { InputError, Modality } from '../compute/atlas';
import type { ProgressEvent } from '../compute/types';
import { readNpyHeader, npyRowChunks } from '../export/npyRead';
import { createRng } from '../lib/rng';
import { chooseBackend } from '../model/backend';
import { encodeAndMeasureSae } from '../model/sae/encode';
import { hookNameOfLayer } from '../model/sae/hookNames';
import { saeLossRecovered, type SaeLossRecovered } from '../model/sae/lossRecovered';
import { SAE_CFG_FILE, SAE_WEIGHTS_FILE, writeSaeLens } from '../model/sae/saelens';
import type { Sae, SaeArchitecture } from '../model/sae/sae';
import { resolveSaeSettings, trainSae, type SaeTrainMetrics, type SaeTrainProgress, type SaeTrainSettings } from '../model/sae/train';
import { latentTopRows } from '../model/sae/topRows';
import { measureLatentPolysemanticity } from '../model/sae/latentPolysemanticity';
import { DEFAULT_MAX_EXAMPLES, DEFAULT_MIN_MEMBERS, defaultThreshold, EXAMPLE_FRACTION } from '../model/directions/polysemanticity';
import { tokenContext } from '../model/text/tokenizer';
import { loadTextModelForCli, recordInNode } from './buildAtlas';
import { printNotes } from './cliText';
import { fileSource } from './npyFile';
import { withNodeWasmThreads } from './wasmThreads';
import { LATENT_ATLAS_FILE, writeLatentAtlas } from './latentAtlas';

export const SAE_REPORT_FILE = 'report.json';
/** Tokens before a text example shown as its context. */
const CONTEXT_TOKENS = 8;

const USAGE = `Train a sparse autoencoder (TopK, Gao et al. 2024; or ReLU + L1) on a layer's recorded activations; writes
SAELens's files (cfg.json, sae_weights.safetensors) and a JSON report into a folder.

  npm run sae -- --text <file|dir> [--model <dir>] --layer h.2.mlp.act --out sae/
  npm run sae -- [--images <dir>] [--model <dir>] [--layer <name>] --out sae/
  npm run sae -- --activations acts.npy --out sae/

  --text <file|dir>         .txt (one document per paragraph) or .jsonl, or a folder of them: a GPT-2's layer
  --images <dir>            an image folder (sub-folders give labels); with neither --text nor --activations, the
                            bundled sample through the built-in image model
  --activations <file.npy>  precomputed rows (rows x dim; float32, float64 or float16), no model
  --model <dir|default>     as for npm run atlas: default models/fashion-cnn, or models/text-gpt2 with --text
  --layer <name>            the layer to record; default: the model's atlas layer (text: the middle block's MLP)
  --samples <k|all|pooled>  positions per input (images default to pooled, text to all)
  --sample <rows>           rows trained on: a seeded sample of every row recorded; default: as many as 256 MB holds
  --latents <N>             latents (d_sae); default: 8x the layer's width
  --k <K>                   latents active per row (topk); default: 32 (or N where N is smaller)
  --epochs <E>              passes over the rows; default: 5
  --architecture <a>        topk | relu; default: topk
  --learning-rate <lr>      Adam's step; default: 0.03 / sqrt(width) on data scaled to mean squared norm width
  --l1 <c>                  relu: the decoder-norm-weighted L1 coefficient on that scaled data; default: 1
  --batch-size <b>          rows per step; default: 256
  --seed <n>                seed of the sample and the training; default: 0
  --top-examples <n>        most active examples kept per latent in the report; default: 8
  --threshold <t>           polysemanticity: cosine that joins two examples' neuron embeddings (the encoder column as
                            the weights); default: as npm run neurons (0.5 text and .npy rows, 0.7 images)
  --min-members <m>         examples a cluster needs to count towards polysemanticity; default: ${DEFAULT_MIN_MEMBERS}
  --max-examples <k>        cluster at most k examples per latent, the most active; default: ${DEFAULT_MAX_EXAMPLES}
  --loss-windows <n>        text: windows (the first n recorded) over which loss recovered is measured; 0 skips it;
                            default: 64
  --epoch-loss              text: measure it at each epoch's end too, on the SAE as it stands (the report's epochs),
                            as the page's Dictionary panel does while it trains
  --latent-atlas            also lay out the live latents by their decoder rows, binned like any atlas, each point
                            named by its top tokens (text) or labels: latents.npy, latents.jsonl and latent-atlas.json
                            in --out, the atlas the page opens (or the two files on its precomputed import)
  --threads <n>             wasm threads for recording and training; default: the cores available
  --out <dir>               the folder written: ${SAE_CFG_FILE}, ${SAE_WEIGHTS_FILE}, ${SAE_REPORT_FILE}
`;

/** A recorded row shown as one of a latent's top examples. */
export interface SaeLatentExample {
  /** The input's name: a document window, an image, or `row i` of an .npy. */
  input: string;
  /** Token index in its window (text), flat index into the layer's [H, W] (images), -1 for a pooled row. */
  position: number;
  activation: number;
  /** Text: the token and up to 8 tokens before it, the token in [brackets]. */
  token?: string;
  context?: string;
  /** Images: the input's label, and the position's row and column. */
  label?: string | null;
  y?: number;
  x?: number;
}

export interface SaeLatentReport {
  index: number;
  /** Fraction of the training rows on which it is active. */
  frequency: number;
  maxActivation: number;
  /** Clusters of at least minMembers among its examples' neuron embeddings (Foote 2024). */
  polysemanticity: number;
  /** Rows at >= 75% of its maximum, and their cluster sizes (largest first; at most 8 listed). */
  examples: number;
  clusters: number[];
  topExamples: SaeLatentExample[];
}

/** report.json. */
export interface SaeReport {
  version: 1;
  kind: 'sae-report';
  modality: Modality;
  model: string;
  layer: string;
  /** SAELens's name of the layer, as in cfg.json. */
  hookName: string;
  width: number;
  backend: string;
  /** Rows trained on, and rows recorded (more when --sample drew from them). */
  rows: number;
  rowsRecorded: number;
  inputs: number;
  settings: SaeTrainSettings;
  /** Training's input scale (the data was multiplied by it; the weights are in the input's units). */
  inputScale: number;
  trainSeconds: number;
  /** Wall-clock seconds of each stage: reading or recording the rows, training, measuring and encoding every row, loss recovered. */
  seconds: { rows: number; train: number; measure: number; polysemanticity: number; loss: number };
  /** Metrics over each epoch, each row measured with the weights of the step that trained on it; with --epoch-loss, the loss recovered at its end. */
  epochs: (SaeTrainMetrics & { epoch: number; lossRecovered?: SaeLossRecovered })[];
  /** The trained SAE over every training row. */
  final: { rows: number; mse: number; fve: number; l0: number; deadLatents: number };
  /** GPT-2 only: clean, spliced and zero-ablated next-token loss over the first --loss-windows windows. */
  lossRecovered: SaeLossRecovered | null;
  /** The latents' polysemanticity by neuron embeddings with the encoder columns as input weights, as npm run neurons measures neurons. */
  polysemanticity: {
    threshold: number;
    minMembers: number;
    exampleFraction: number;
    maxExamples: number;
    /** histogram[k] latents have k clusters. */
    histogram: number[];
    meanPolysemanticity: number;
    /** Latents with more examples than maxExamples (only the most active were clustered). */
    capped: number;
  };
  latents: SaeLatentReport[];
  notices: string[];
  errors: InputError[];
}

interface TrainingRows {
  modality: Modality;
  model: string;
  layer: string;
  width: number;
  values: Float32Array;
  rows: number;
  rowsRecorded: number;
  inputs: number;
  notices: string[];
  errors: InputError[];
  /** Row r as an example with the activation given. */
  example(row: number, activation: number): SaeLatentExample;
  /** Text: every recorded window's token ids (token 0 <|endoftext|>), for loss recovered. */
  windows: Int32Array[] | null;
}

function parseCli(args?: string[]) {
  return parseArgs({
    args,
    options: {
      text: { type: 'string' },
      images: { type: 'string' },
      activations: { type: 'string' },
      model: { type: 'string', default: 'default' },
      layer: { type: 'string' },
      samples: { type: 'string' },
      sample: { type: 'string' },
      latents: { type: 'string' },
      k: { type: 'string' },
      epochs: { type: 'string' },
      architecture: { type: 'string', default: 'topk' },
      'learning-rate': { type: 'string' },
      l1: { type: 'string' },
      'batch-size': { type: 'string' },
      seed: { type: 'string', default: '0' },
      'top-examples': { type: 'string', default: '8' },
      'loss-windows': { type: 'string', default: '64' },
      'epoch-loss': { type: 'boolean', default: false },
      'latent-atlas': { type: 'boolean', default: false },
      threshold: { type: 'string' },
      'min-members': { type: 'string' },
      'max-examples': { type: 'string' },
      threads: { type: 'string' },
      out: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
}
type CliValues = ReturnType<typeof parseCli>['values'];

function number(value: string, flag: string, min: number, exclusive = false): number {
  const v = Number(value);
  if (value.trim() === '' || !Number.isFinite(v) || v < min || (exclusive && v === min)) {
    throw new Error(`${flag} must be a number ${exclusive ? 'above' : 'of at least'} ${min}; got "${value}".`);
  }
  return v;
}

function integer(value: string, flag: string, min: number): number {
  const v = number(value, flag, min);
  if (!Number.isInteger(v)) throw new Error(`${flag} must be a whole number; got "${value}".`);
  return v;
}

const optionalInteger = (value: string | undefined, flag: string, min: number) => (value === undefined ? undefined : integer(value, flag, min));

function parseSamples(value: string): 'pooled' | 'all' | number {
  if (value === 'pooled' || value === 'all') return value;
  const k = Number(value);
  if (!Number.isInteger(k) || k < 1) throw new Error(`--samples must be a positive integer, "all" or "pooled"; got "${value}".`);
  return k;
}

/** Stage lines on stderr: recording stages when done, training every ~10%. */
function stageProgress(event: ProgressEvent): void {
  if (event.done === event.total) process.stderr.write(`${event.stage} ${event.done}/${event.total}\n`);
}

/** The rows of an .npy file, all of them or a seeded sample of `sample` rows (kept in file order). */
async function readActivationRows(path: string, sample: number | undefined, seed: number): Promise<TrainingRows> {
  const source = await fileSource(path);
  try {
    const header = await readNpyHeader(source, basename(path));
    const { rows, dim } = header;
    if (rows === 0) throw new Error(`${path} holds no rows.`);
    const keep = sample !== undefined && sample < rows ? sampledRows(rows, sample, seed) : null;
    const count = keep ? keep.length : rows;
    const values = new Float32Array(count * dim);
    const picked = new Int32Array(count);
    let at = 0;
    for await (const chunk of npyRowChunks(source, header, undefined, basename(path))) {
      for (let r = 0; r < chunk.count; r++) {
        const row = chunk.start + r;
        if (keep && keep[at] !== row) continue;
        values.set(chunk.values.subarray(r * dim, (r + 1) * dim), at * dim);
        picked[at++] = row;
        if (at === count) break;
      }
      if (at === count) break;
    }
    const notices = keep ? [`--sample: trained on a seeded ${count.toLocaleString('en')} of ${rows.toLocaleString('en')} rows.`] : [];
    return {
      modality: 'precomputed',
      model: basename(path),
      layer: 'activations',
      width: dim,
      values,
      rows: count,
      rowsRecorded: rows,
      inputs: rows,
      notices,
      errors: [],
      example: (row, activation) => ({ input: `row ${picked[row]}`, position: -1, activation }),
      windows: null,
    };
  } finally {
    await source.close();
  }
}

/** `count` distinct rows of `total`, seeded, ascending (a partial Fisher-Yates shuffle). */
function sampledRows(total: number, count: number, seed: number): Int32Array {
  const random = createRng(seed);
  const order = new Int32Array(total);
  for (let i = 0; i < total; i++) order[i] = i;
  for (let i = 0; i < count; i++) {
    const j = i + Math.floor(random() * (total - i));
    [order[i], order[j]] = [order[j], order[i]];
  }
  return order.slice(0, count).sort();
}

/** Records the model's layer through the atlas's recorder; its bounded seeded sample is the training data. */
async function recordRows(values: CliValues, seed: number): Promise<TrainingRows> {
  const recording = await recordInNode({
    model: values.model,
    text: values.text,
    images: values.images,
    layer: values.layer,
    params: { seed, ...(values.samples !== undefined ? { samplesPerInput: parseSamples(values.samples) } : {}) },
    stream: values.sample !== undefined ? { sampleRows: integer(values.sample, '--sample', 1) } : {},
    threads: 1,
    onProgress: stageProgress,
  });
  const { recorded, errors } = recording;
  const { table } = recorded;
  if (table.count === 0) throw new Error('Nothing was recorded: the inputs hold no rows at this layer.');
  const notices = [...recorded.notices];
  const base = {
    model: recorded.model.name,
    layer: table.layer,
    width: table.dim,
    values: table.values,
    rows: table.count,
    rowsRecorded: table.totalBeforeSampling,
    inputs: recorded.names.length,
    notices,
    errors,
  };
  if (recorded.modality === 'text') {
    const tokenIds = recorded.previews.tokenIds.map((ids) => Int32Array.from(ids));
    return {
      ...base,
      modality: 'text',
      example: (row, activation) => {
        const w = table.input[row];
        const t = table.position[row];
        return { input: recorded.names[w], position: t, activation, ...tokenContext(tokenIds[w], t, CONTEXT_TOKENS) };
      },
      windows: tokenIds,
    };
  }
  const [, w] = table.positionShape;
  return {
    ...base,
    modality: recorded.modality,
    example: (row, activation) => {
      const i = table.input[row];
      const p = table.position[row];
      const where = p >= 0 && w !== undefined ? { y: Math.floor(p / w), x: p % w } : {};
      return { input: recorded.names[i], label: recorded.labels[i] ?? null, position: p, ...where, activation };
    },
    windows: null,
  };
}

async function main(): Promise<void> {
  const { values } = parseCli();
  if (values.help) {
    process.stdout.write(USAGE);
    return;
  }
  const sources = (['text', 'images', 'activations'] as const).filter((flag) => values[flag] !== undefined);
  if (sources.length > 1) throw new Error(`Pass one of --text, --images and --activations, not ${sources.map((f) => `--${f}`).join(' and ')}.`);
  if (values.out === undefined) throw new Error('--out <dir> is required: the folder for cfg.json, sae_weights.safetensors and report.json.');
  if (values.activations !== undefined) {
    const modelFlags = (['model', 'layer', 'samples'] as const).filter((flag) => (flag === 'model' ? values.model !== 'default' : values[flag] !== undefined));
    if (modelFlags.length) throw new Error(`${modelFlags.map((f) => `--${f}`).join(', ')} cannot go with --activations: precomputed rows need no model.`);
  }
  const architecture = values.architecture as SaeArchitecture;
  if (architecture !== 'topk' && architecture !== 'relu') throw new Error(`--architecture must be topk or relu; got "${values.architecture}".`);
  if (architecture === 'relu' && values.k !== undefined) throw new Error('--k applies to --architecture topk; a ReLU SAE keeps every positive latent (tune --l1).');
  if (architecture === 'topk' && values.l1 !== undefined) throw new Error('--l1 applies to --architecture relu.');
  const seed = integer(values.seed, '--seed', Number.MIN_SAFE_INTEGER);
  const latents = optionalInteger(values.latents, '--latents', 1);
  const k = optionalInteger(values.k, '--k', 1);
  if (latents !== undefined && k !== undefined && k > latents) throw new Error(`--k (${k}) cannot exceed --latents (${latents}): a TopK SAE keeps k of its latents per row.`);
  const training = {
    architecture,
    latents,
    k,
    epochs: optionalInteger(values.epochs, '--epochs', 1),
    batchSize: optionalInteger(values['batch-size'], '--batch-size', 1),
    learningRate: values['learning-rate'] === undefined ? undefined : number(values['learning-rate'], '--learning-rate', 0, true),
    l1Coefficient: values.l1 === undefined ? undefined : number(values.l1, '--l1', 0),
    seed,
  };
  const topExamples = integer(values['top-examples'], '--top-examples', 0);
  const lossWindows = integer(values['loss-windows'], '--loss-windows', 0);
  const threshold = values.threshold === undefined ? undefined : number(values.threshold, '--threshold', -1);
  if (threshold !== undefined && threshold > 1) throw new Error(`--threshold is a cosine similarity, at most 1; got "${values.threshold}".`);
  const minMembers = integer(values['min-members'] ?? String(DEFAULT_MIN_MEMBERS), '--min-members', 1);
  const maxExamples = integer(values['max-examples'] ?? String(DEFAULT_MAX_EXAMPLES), '--max-examples', 1);
  const sample = optionalInteger(values.sample, '--sample', 1);
  const threads = values.threads === undefined ? availableParallelism() : integer(values.threads, '--threads', 1);

  const started = performance.now();
  const { value: backend, threads: wasmThreads, note } = await withNodeWasmThreads(threads, () => chooseBackend({ node: true }));
  const rowsStarted = performance.now();
  const data = values.activations !== undefined ? await readActivationRows(values.activations, sample, seed) : await recordRows(values, seed);
  if (note) data.notices.push(note);
  const settings = resolveSaeSettings(data.width, data.rows, Object.fromEntries(Object.entries(training).filter(([, v]) => v !== undefined)));
  const backendLabel = `${backend.name}${wasmThreads > 1 ? ` (${wasmThreads} threads)` : ''}`;
  process.stderr.write(
    `training ${settings.architecture} SAE: ${settings.latents} latents${settings.architecture === 'topk' ? `, k ${settings.k}` : ''} on ${data.rows.toLocaleString('en')} rows ` +
      `of ${data.layer} (${data.width}-d) x ${settings.epochs} epochs, ${backendLabel}\n`,
  );

  const trainStarted = performance.now();
  let shown = -1;
  const onProgress = (p: SaeTrainProgress) => {
    const tenth = Math.floor((10 * p.rowsSeen) / p.totalRows);
    if (tenth === shown) return;
    shown = tenth;
    const seconds = ((performance.now() - trainStarted) / 1000).toFixed(1);
    process.stderr.write(
      `train epoch ${p.epoch + 1}/${settings.epochs} rows ${p.rowsSeen}/${p.totalRows}: mse ${p.mse.toPrecision(3)}, fve ${p.fve.toFixed(3)}, ` +
        `l0 ${p.l0.toFixed(1)}, dead ${p.deadLatents}, ${seconds} s\n`,
    );
  };
  const lossAt = data.windows && lossWindows > 0 ? data.windows.slice(0, lossWindows) : null;
  if (values['epoch-loss'] && !lossAt) throw new Error('--epoch-loss measures loss recovered, on a GPT-2 layer (--text) over --loss-windows windows (not 0).');
  // Loaded for training only with --epoch-loss; otherwise after it, for the final loss recovered.
  let lossModel = values['epoch-loss'] ? await loadTextModelForCli(values.model) : null;
  const epochLosses: SaeLossRecovered[] = [];
  let trained: Awaited<ReturnType<typeof trainSae>>;
  try {
    const onEpoch = async (epoch: number, current: Sae) => {
      // The first epoch's clean and zero-ablated losses serve the later ones: only the spliced passes run again.
      const loss = await saeLossRecovered(lossModel!.gpt2, current, data.layer, lossAt!, { baseline: epochLosses[0] });
      epochLosses.push(loss);
      process.stderr.write(`epoch ${epoch + 1}/${settings.epochs}: loss recovered ${loss.lossRecovered.toFixed(3)} over ${loss.windows} windows\n`);
    };
    trained = await trainSae(data.values, data.width, { ...settings, layer: data.layer, modelName: data.model, onProgress, ...(lossModel ? { onEpoch } : {}) });
  } catch (e) {
    lossModel?.dispose();
    throw e;
  }
  const trainSeconds = (performance.now() - trainStarted) / 1000;
  const { sae } = trained;

  const measureStarted = performance.now();
  const { measures: measured, latents: encoded } = await encodeAndMeasureSae(sae, data.values);
  const top = latentTopRows(encoded, topExamples);
  const clusterStarted = performance.now();
  const clustering = {
    threshold: threshold ?? defaultThreshold(data.modality === 'image' ? 'image' : 'text'),
    minMembers,
    exampleFraction: EXAMPLE_FRACTION,
    maxExamples,
  };
  const poly = await measureLatentPolysemanticity(sae, data.values, encoded, { ...clustering, fraction: EXAMPLE_FRACTION });
  stageProgress({ stage: 'cluster', done: sae.config.dSae, total: sae.config.dSae });
  const lossStarted = performance.now();
  let lossRecovered: SaeLossRecovered | null = null;
  if (data.windows && lossAt) {
    // With --epoch-loss the last epoch's is this SAE's, over the same windows.
    if (epochLosses.length) lossRecovered = epochLosses[epochLosses.length - 1];
    else {
      lossModel = await loadTextModelForCli(values.model);
      lossRecovered = await saeLossRecovered(lossModel.gpt2, sae, data.layer, lossAt, { onProgress: (done, total) => stageProgress({ stage: 'loss', done, total }) });
    }
    if (data.windows.length > lossWindows) data.notices.push(`Loss recovered over the first ${lossWindows} of ${data.windows.length} windows (--loss-windows).`);
  }
  lossModel?.dispose();
  const seconds = {
    rows: (trainStarted - rowsStarted) / 1000,
    train: trainSeconds,
    measure: (clusterStarted - measureStarted) / 1000,
    polysemanticity: (lossStarted - clusterStarted) / 1000,
    loss: (performance.now() - lossStarted) / 1000,
  };
  const modality = data.modality;
  const report: SaeReport = {
    version: 1,
    kind: 'sae-report',
    modality,
    model: data.model,
    layer: data.layer,
    hookName: hookNameOfLayer(data.layer, modality),
    width: data.width,
    backend: backendLabel,
    rows: data.rows,
    rowsRecorded: data.rowsRecorded,
    inputs: data.inputs,
    settings: trained.settings,
    inputScale: trained.inputScale,
    trainSeconds,
    seconds,
    epochs: trained.epochs.map((m, epoch) => ({ epoch, ...m, ...(epochLosses[epoch] ? { lossRecovered: epochLosses[epoch] } : {}) })),
    final: { rows: measured.rows, mse: measured.mse, fve: measured.fve, l0: measured.l0, deadLatents: measured.deadLatents },
    lossRecovered,
    polysemanticity: { ...clustering, histogram: poly.histogram, meanPolysemanticity: poly.meanPolysemanticity, capped: poly.capped },
    latents: Array.from({ length: sae.config.dSae }, (_, i) => ({
      index: i,
      frequency: measured.frequency[i],
      maxActivation: measured.maxActivation[i],
      polysemanticity: poly.latents[i].polysemanticity,
      examples: poly.latents[i].examples,
      clusters: poly.latents[i].clusters.slice(0, 8),
      topExamples: Array.from(top.rows[i], (row, j) => data.example(row, top.values[i][j])),
    })),
    notices: [
      ...data.notices,
      ...(poly.capped > 0 ? [`${poly.capped} latent(s) had more than ${maxExamples} examples: only their ${maxExamples} most active were clustered (--max-examples).`] : []),
    ],
    errors: data.errors,
  };
  const files = writeSaeLens(sae, { modality });
  await mkdir(values.out, { recursive: true });
  await writeFile(join(values.out, SAE_CFG_FILE), files.cfg);
  await writeFile(join(values.out, SAE_WEIGHTS_FILE), files.weights);
  await writeFile(join(values.out, SAE_REPORT_FILE), JSON.stringify(report, null, 1));
  printNotes(report.notices, report.errors);
  if (values['latent-atlas']) {
    const started = performance.now();
    const { atlas, errors, live } = await writeLatentAtlas(values.out, sae, report.latents, `${report.model} ${report.layer}: SAE latents`);
    printNotes(atlas.notices, errors);
    const cells = atlas.levels.map((l) => `${l.size}:${l.cells.length}`).join(' ');
    process.stdout.write(`wrote ${join(values.out, LATENT_ATLAS_FILE)}: ${live} live latents of ${sae.config.dSae} by their decoder rows, cells per grid ${cells}, ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
  }
  const loss = lossRecovered
    ? `; loss clean ${lossRecovered.clean.toFixed(3)}, spliced ${lossRecovered.spliced.toFixed(3)}, zero-ablated ${lossRecovered.zero.toFixed(3)}: ` +
      `loss recovered ${lossRecovered.lossRecovered.toFixed(3)} (${lossRecovered.lossRecoveredExceptFirst.toFixed(3)} with token 0 kept)`
    : '';
  process.stdout.write(
    `${report.layer} of ${report.model}: ${sae.config.dSae} latents on ${data.rows.toLocaleString('en')} rows, FVE ${measured.fve.toFixed(3)}, L0 ${measured.l0.toFixed(1)}, ` +
      `dead ${measured.deadLatents} (${((100 * measured.deadLatents) / sae.config.dSae).toFixed(1)}%), trained in ${trainSeconds.toFixed(1)} s${loss}\n` +
      `latent polysemanticity (threshold ${clustering.threshold}, clusters of at least ${minMembers}): ${poly.histogram.map((n, k) => `${k}: ${n}`).join(', ')}; mean ${poly.meanPolysemanticity.toFixed(2)}\n`,
  );
  const stages = `rows ${seconds.rows.toFixed(1)} s, training ${seconds.train.toFixed(1)} s, measuring ${seconds.measure.toFixed(1)} s, clustering ${seconds.polysemanticity.toFixed(1)} s${lossRecovered ? `, loss ${seconds.loss.toFixed(1)} s` : ''}`;
  process.stdout.write(`wrote ${values.out}: ${SAE_CFG_FILE}, ${SAE_WEIGHTS_FILE}, ${SAE_REPORT_FILE} in ${((performance.now() - started) / 1000).toFixed(1)} s (${stages})\n`);
}

main().catch((e: Error) => {
  process.stderr.write(`\nerror: ${e.message}\n`);
  process.exitCode = 1;
});
