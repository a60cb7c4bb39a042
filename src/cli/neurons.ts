import { writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import type { InputError } from '../compute/atlas';
import type { ProgressEvent } from '../compute/types';
import { chooseBackend } from '../model/backend';
import { neuronPolysemanticity, recordNeuronInputs, type NeuronInputs, type NeuronPolysemanticity } from '../model/directions/neuronInputs';
import { documentsFromFiles, splitNotice, windows as windowsOf } from '../model/text/documents';
import { encode, tokenTexts } from '../model/text/tokenizer';
import { loadTextModelForCli } from './buildAtlas';
import { textFilesFromPath } from './nodeIo';

/**
 * Two examples are joined at cosine 0.5 by default, in every layer: in the built-in model the embeddings of
 * random token pairs have a median cosine of 0.04 to 0.16 in each of its four layers (about 1/sqrt(nEmbd)), a
 * neuron's own examples 0.45 to 0.63, so 0.5 joins examples driven the same way and rarely joins by chance.
 */
export const DEFAULT_THRESHOLD = 0.5;
/** A pair of look-alike tokens is not yet a behaviour: a cluster counts from 3 examples. */
export const DEFAULT_MIN_MEMBERS = 3;
/** An example reaches this fraction of its neuron's maximum activation (Foote 2024). */
export const EXAMPLE_FRACTION = 0.75;
/** Clustering is quadratic in a neuron's examples: past this many, only the most active are clustered. */
export const DEFAULT_MAX_EXAMPLES = 2000;
/** Tokens before an example shown as its context. */
const CONTEXT_TOKENS = 8;

const USAGE = `Polysemanticity of a GPT-2's MLP neurons by neuron embeddings (Foote 2024); writes a JSON report.

  npm run neurons -- --text <file|dir> --layer h.1.mlp.act [--model <dir>] [--out neurons.json]

  --model <dir|default>   GPT-2 folder (config.json + safetensors); default: the built-in models/text-gpt2
  --text <file|dir>       .txt (one document per paragraph) or .jsonl, or a folder of them
  --layer <h.I.mlp.act>   the MLP neurons to measure; default: the middle block's
  --threshold <t>         cosine similarity that joins two examples' embeddings; default: ${DEFAULT_THRESHOLD}
  --min-members <m>       examples a cluster needs to count towards polysemanticity; default: ${DEFAULT_MIN_MEMBERS}
  --neurons <list|all>    neurons to measure, e.g. 0-255, 3,17,40-47 or all; default: all
  --max-tokens <N>        record at most N tokens (the first, in document order); default: all
  --max-examples <k>      cluster at most k examples per neuron, the most active; default: ${DEFAULT_MAX_EXAMPLES}
  --contexts <k>          example contexts kept for each of a neuron's 3 largest clusters; default: 3
  --out <file>            output JSON; default: neurons.json
  --images <dir>          not supported yet: neuron embeddings are measured on GPT-2 MLP layers only
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

export interface NeuronReport {
  index: number;
  maxActivation: number;
  examples: number;
  /** Examples clustered: all of them, or the --max-examples most active. */
  clusteredExamples: number;
  /** Cluster sizes, largest first (their sum is clusteredExamples). */
  clusters: number[];
  polysemanticity: number;
  /** For each of the 3 largest clusters, its most active examples. */
  topClusters: ExampleContext[][];
}

export interface NeuronsFile {
  version: 1;
  kind: 'neuron-polysemanticity';
  model: string;
  layer: string;
  threshold: number;
  minMembers: number;
  exampleFraction: number;
  maxExamples: number;
  documents: number;
  windows: number;
  /** Tokens recorded, and those the documents hold (more when --max-tokens capped them). */
  tokens: number;
  tokensAvailable: number;
  /** Neurons by polysemanticity: histogram[k] neurons have k clusters of at least minMembers examples. */
  histogram: number[];
  /** Neurons with no example (never positive on these documents). */
  deadNeurons: number;
  meanPolysemanticity: number;
  notices: string[];
  errors: InputError[];
  neurons: NeuronReport[];
}

export interface NeuronsOptions {
  model: string;
  text: string;
  layer?: string;
  threshold?: number;
  minMembers?: number;
  /** Neuron ids; all unless given. */
  neurons?: number[];
  maxTokens?: number;
  maxExamples?: number;
  contexts?: number;
  onProgress?: (event: ProgressEvent) => void;
}

/** Records the documents at an MLP layer and measures each neuron's polysemanticity. */
export async function measureNeurons(options: NeuronsOptions): Promise<NeuronsFile> {
  await chooseBackend({ node: true });
  const read = documentsFromFiles(await textFilesFromPath(options.text));
  if (read.documents.length === 0) {
    const firstError = read.errors[0];
    throw new Error(`No documents in ${options.text}${firstError ? ` (${firstError.name}: ${firstError.reason})` : ': it holds no files'}.`);
  }
  const model = await loadTextModelForCli(options.model);
  try {
    const layer = options.layer ?? model.defaultLayer;
    const threshold = options.threshold ?? DEFAULT_THRESHOLD;
    const minMembers = options.minMembers ?? DEFAULT_MIN_MEMBERS;
    const maxExamples = options.maxExamples ?? DEFAULT_MAX_EXAMPLES;
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
    const neurons = options.neurons ?? Array.from({ length: recorded.width }, (_, i) => i);
    const outside = neurons.find((n) => n >= recorded.width);
    if (outside !== undefined) throw new Error(`--neurons: ${layer} has neurons 0-${recorded.width - 1}; got ${outside}.`);
    const reports: NeuronReport[] = [];
    let capped = 0;
    neurons.forEach((neuron, k) => {
      const result = neuronPolysemanticity(recorded, neuron, { threshold, minMembers, fraction: EXAMPLE_FRACTION, maxExamples });
      if (result.clustered.length < result.examples.length) capped++;
      reports.push(neuronReport(result, recorded, tokenIds, names, options.contexts ?? 3));
      options.onProgress?.({ stage: 'cluster', done: k + 1, total: neurons.length });
    });
    if (capped > 0) notices.push(`${capped} neuron(s) had more than ${maxExamples} examples: only their ${maxExamples} most active were clustered (--max-examples).`);
    const histogram: number[] = [];
    for (const r of reports) {
      while (histogram.length <= r.polysemanticity) histogram.push(0);
      histogram[r.polysemanticity]++;
    }
    return {
      version: 1,
      kind: 'neuron-polysemanticity',
      model: model.info.name,
      layer,
      threshold,
      minMembers,
      exampleFraction: EXAMPLE_FRACTION,
      maxExamples,
      documents: read.documents.length,
      windows: tokenIds.length,
      tokens: recorded.count,
      tokensAvailable: recorded.available,
      histogram,
      deadNeurons: reports.filter((r) => r.examples === 0).length,
      meanPolysemanticity: reports.reduce((s, r) => s + r.polysemanticity, 0) / Math.max(1, reports.length),
      notices,
      errors: read.errors,
      neurons: reports,
    };
  } finally {
    model.dispose();
  }
}

function neuronReport(result: NeuronPolysemanticity, recorded: NeuronInputs, tokenIds: Int32Array[], names: string[], contexts: number): NeuronReport {
  const { width, activations } = recorded;
  const activation = (row: number) => activations[row * width + result.neuron];
  const topClusters = result.clusters.slice(0, 3).map((rows) =>
    [...rows]
      .sort((a, b) => activation(b) - activation(a) || a - b)
      .slice(0, contexts)
      .map((row): ExampleContext => {
        const w = recorded.window[row];
        const t = recorded.position[row];
        const texts = tokenTexts(tokenIds[w].subarray(Math.max(1, t - CONTEXT_TOKENS), t + 1));
        const token = texts.pop()!;
        return { document: names[w], position: t, token, context: `${texts.join('')}[${token}]`, activation: activation(row) };
      }),
  );
  return {
    index: result.neuron,
    maxActivation: result.maxActivation,
    examples: result.examples.length,
    clusteredExamples: result.clustered.length,
    clusters: result.clusters.map((c) => c.length),
    polysemanticity: result.polysemanticity,
    topClusters,
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
export function summary(file: NeuronsFile, top = 8): string {
  const lines = [
    `${file.layer} of ${file.model}: ${file.neurons.length} neurons over ${file.tokens.toLocaleString('en')} tokens of ${file.documents} documents ` +
      `(threshold ${file.threshold}, clusters of at least ${file.minMembers})`,
    `polysemanticity: ${file.histogram.map((n, k) => `${k}: ${n}`).join(', ')}; mean ${file.meanPolysemanticity.toFixed(2)}; ${file.deadNeurons} neuron(s) with no example`,
  ];
  const ranked = [...file.neurons].sort((a, b) => b.polysemanticity - a.polysemanticity || a.index - b.index).slice(0, top);
  if (ranked.length && ranked[0].polysemanticity > 0) lines.push('most polysemantic:');
  for (const n of ranked) {
    if (n.polysemanticity === 0) break;
    const shown = n.topClusters.map((c, k) => `${n.clusters[k]}x ${JSON.stringify(c[0]?.context ?? '')}`).join('  ');
    lines.push(`  neuron ${n.index}: ${n.polysemanticity} (clusters ${n.clusters.slice(0, 6).join(', ')}${n.clusters.length > 6 ? ', ...' : ''} of ${n.examples} examples)  ${shown}`);
  }
  return lines.join('\n') + '\n';
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
      'max-examples': { type: 'string' },
      contexts: { type: 'string', default: '3' },
      out: { type: 'string', default: 'neurons.json' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(USAGE);
    return;
  }
  if (values.images !== undefined) throw new Error('--images is not supported yet: neuron embeddings are measured on GPT-2 MLP layers (h.I.mlp.act) with --text.');
  if (values.text === undefined) throw new Error('Pass --text <file|dir> with the documents to record (see --help).');
  const started = performance.now();
  const file = await measureNeurons({
    model: values.model,
    text: values.text,
    layer: values.layer,
    threshold: values.threshold === undefined ? undefined : number(values.threshold, '--threshold', -1, 1),
    minMembers: values['min-members'] === undefined ? undefined : integer(values['min-members'], '--min-members', 1),
    neurons: parseNeurons(values.neurons),
    maxTokens: values['max-tokens'] === undefined ? undefined : integer(values['max-tokens'], '--max-tokens', 1),
    maxExamples: values['max-examples'] === undefined ? undefined : integer(values['max-examples'], '--max-examples', 1),
    contexts: integer(values.contexts, '--contexts', 0),
    onProgress: progress,
  });
  await writeFile(values.out, JSON.stringify(file, null, 1));
  for (const notice of file.notices) process.stderr.write(`note: ${notice}\n`);
  if (file.errors.length) {
    process.stderr.write(`skipped ${file.errors.length} input(s) that could not be read:\n`);
    for (const e of file.errors) process.stderr.write(`  ${e.name}: ${e.reason}\n`);
  }
  process.stdout.write(summary(file));
  process.stdout.write(`wrote ${values.out} in ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
}

main().catch((e: Error) => {
  process.stderr.write(`\nerror: ${e.message}\n`);
  process.exitCode = 1;
});
