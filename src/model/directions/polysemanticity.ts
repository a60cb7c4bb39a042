import { neuronClusters, neuronEmbeddings, neuronExamples } from '../../compute/directions/neuronClusters';
import { gatherRows } from '../../compute/directions/vectors';
import type { ProgressCallback } from '../../compute/types';
import { createPacer, nextTask } from '../../lib/yieldToPage';
import { neuronColumn, neuronWeights, type NeuronInputs } from './neuronInputs';

/**
 * Two examples are joined at cosine 0.5 by default in GPT-2's MLP layers: in the built-in model the embeddings of
 * random token pairs have a median cosine of 0.04 to 0.16 in each of its four layers (about 1/sqrt(nEmbd)), a
 * neuron's own examples 0.45 to 0.63, so 0.5 joins examples driven the same way and rarely joins by chance.
 */
export const TEXT_THRESHOLD = 0.5;
/**
 * Image layers read the output of a ReLU, so their inputs are non-negative and any two embeddings of one neuron
 * share the signs of its weights: random pairs are far from orthogonal. In the built-in fashion-cnn, over its
 * 3,000 sample images, the median cosine of random (image, position) pairs embedded with a neuron's weights is
 * 0.45 (conv2), 0.41 (conv3) and 0.36 (fc), that of a neuron's own examples 0.91, 0.81 and 0.73 (medians over
 * neurons). At 0.7 a random pair is joined 23%, 8% and 7% of the time, a pair of a neuron's own examples 100%,
 * 83% and 57%; at 0.6 random pairs would be joined 34%, 19% and 14% of the time.
 */
export const IMAGE_THRESHOLD = 0.7;
/** A pair of look-alike inputs is not yet a behaviour: a cluster counts from 3 examples. */
export const DEFAULT_MIN_MEMBERS = 3;
/** An example reaches this fraction of its neuron's maximum activation (Foote 2024). */
export const EXAMPLE_FRACTION = 0.75;
/** Clustering is quadratic in a neuron's examples: past this many, only the most active are clustered. */
export const DEFAULT_MAX_EXAMPLES = 2000;

/** The cosine similarity that joins two examples unless the user moves it, per modality. */
export function defaultThreshold(kind: 'text' | 'image'): number {
  return kind === 'text' ? TEXT_THRESHOLD : IMAGE_THRESHOLD;
}

export interface PolysemanticityOptions {
  /** Cosine similarity that joins two examples. */
  threshold: number;
  /** Members a cluster needs to count. */
  minMembers: number;
  /** An example reaches this fraction of the neuron's maximum; 0.75 unless given. */
  fraction?: number;
  /** Cluster at most this many examples, the most active ones; all unless given. */
  maxExamples?: number;
}

/** One neuron's examples and the clusters of their embeddings. */
export interface NeuronPolysemanticity {
  neuron: number;
  maxActivation: number;
  /** Rows (recorded tokens or image positions) whose activation reaches the fraction of the maximum, ascending. */
  examples: Int32Array;
  /** The examples clustered: all of them, or the maxExamples most active. */
  clustered: Int32Array;
  /** Clusters as rows, largest first; each ascending by row. */
  clusters: number[][];
  polysemanticity: number;
}

/**
 * Polysemanticity of one neuron by neuron embeddings (Foote 2024): its examples' inputs times its input
 * weights, clustered by cosine similarity; the count of clusters with at least minMembers examples.
 */
export function neuronPolysemanticity(recorded: NeuronInputs, neuron: number, options: PolysemanticityOptions): NeuronPolysemanticity {
  const column = neuronColumn(recorded, neuron);
  let maxActivation = -Infinity;
  for (const a of column) if (a > maxActivation) maxActivation = a;
  const examples = neuronExamples(column, options.fraction ?? EXAMPLE_FRACTION);
  let clustered = examples;
  if (options.maxExamples !== undefined && examples.length > options.maxExamples) {
    const top = Array.from(examples).sort((a, b) => column[b] - column[a] || a - b).slice(0, options.maxExamples);
    clustered = Int32Array.from(top.sort((a, b) => a - b));
  }
  const m = clustered.length;
  const embeddings = neuronEmbeddings(gatherRows(recorded.inputs, clustered, recorded.dim), m, recorded.dim, neuronWeights(recorded, neuron));
  const { clusters, polysemanticity } = neuronClusters(embeddings, m, recorded.dim, { threshold: options.threshold, minMembers: options.minMembers });
  return {
    neuron,
    maxActivation: Number.isFinite(maxActivation) ? maxActivation : 0,
    examples,
    clustered,
    clusters: clusters.map((c) => c.map((i) => clustered[i])),
    polysemanticity,
  };
}

export interface MeasureOptions extends PolysemanticityOptions {
  /** Neurons to measure, in this order; all unless given. */
  neurons?: readonly number[];
  onProgress?: ProgressCallback;
  signal?: AbortSignal;
}

/** One measured neuron, as a report lists it. */
export interface NeuronMeasure {
  index: number;
  maxActivation: number;
  /** Rows whose activation reaches the fraction of the maximum. */
  examples: number;
  /** Examples clustered: all of them, or the maxExamples most active. */
  clusteredExamples: number;
  /** Rows of the recording per cluster, largest cluster first; in each, the most active row first. */
  clusters: Int32Array[];
  polysemanticity: number;
}

/** Every measured neuron and the layer's distribution. */
export interface LayerPolysemanticity {
  neurons: NeuronMeasure[];
  /** histogram[k] neurons have k clusters of at least minMembers examples. */
  histogram: number[];
  meanPolysemanticity: number;
  /** Neurons with no example (never positive on these inputs). */
  deadNeurons: number;
  /** Neurons with more than maxExamples examples, of which only the most active were clustered. */
  capped: number;
}

/** Work between yields, so a worker's cancel message is read while neurons are clustered. */
const SLICE_MS = 50;

/**
 * Polysemanticity of a recorded layer's neurons (Foote 2024), in either modality: each neuron's examples,
 * clusters and score, then the histogram and mean. Yields now and then; rejects with an AbortError when the
 * signal fires.
 */
export async function measurePolysemanticity(recorded: NeuronInputs, options: MeasureOptions): Promise<LayerPolysemanticity> {
  const ids = options.neurons ?? Array.from({ length: recorded.width }, (_, i) => i);
  const outside = ids.find((n) => !Number.isInteger(n) || n < 0 || n >= recorded.width);
  if (outside !== undefined) throw new RangeError(`${recorded.layer} has neurons 0-${recorded.width - 1}; got ${outside}.`);
  const neurons: NeuronMeasure[] = [];
  const histogram: number[] = [];
  let capped = 0;
  const pacer = createPacer(options.signal, SLICE_MS, 'Measuring cancelled', nextTask);
  for (let k = 0; k < ids.length; k++) {
    pacer.check();
    const result = neuronPolysemanticity(recorded, ids[k], options);
    if (result.clustered.length < result.examples.length) capped++;
    const activation = (row: number) => recorded.activations[row * recorded.width + result.neuron];
    neurons.push({
      index: result.neuron,
      maxActivation: result.maxActivation,
      examples: result.examples.length,
      clusteredExamples: result.clustered.length,
      clusters: result.clusters.map((rows) => Int32Array.from(rows.sort((a, b) => activation(b) - activation(a) || a - b))),
      polysemanticity: result.polysemanticity,
    });
    while (histogram.length <= result.polysemanticity) histogram.push(0);
    histogram[result.polysemanticity]++;
    options.onProgress?.({ stage: 'cluster', done: k + 1, total: ids.length });
    if (pacer.due()) await pacer.pause();
  }
  return {
    neurons,
    histogram,
    meanPolysemanticity: neurons.reduce((s, n) => s + n.polysemanticity, 0) / Math.max(1, neurons.length),
    deadNeurons: neurons.filter((n) => n.examples === 0).length,
    capped,
  };
}
