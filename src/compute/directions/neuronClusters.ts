import { checkTable, cosine } from './vectors';

/** Options of `neuronClusters`. */
export interface NeuronClusterOptions {
  /** Two examples are joined when the cosine similarity of their embeddings reaches this; 0.5 unless given. */
  threshold?: number;
  /** A component counts towards polysemanticity with at least this many examples; 2 unless given. */
  minMembers?: number;
}

/** The behaviours one neuron's examples fall into. */
export interface NeuronClusters {
  /** Connected components of the similarity graph as example indices (ascending), largest first. */
  clusters: number[][];
  /** Number of components with at least minMembers examples. */
  polysemanticity: number;
}

/**
 * Neuron embeddings (Foote 2024): each example's input to the neuron times the neuron's input weights,
 * elementwise, so row i sums to the example's pre-activation less the bias. m x d in, m x d out.
 */
export function neuronEmbeddings(inputs: Float32Array, m: number, d: number, weights: ArrayLike<number>): Float32Array {
  checkTable('neuronEmbeddings', inputs, m, d);
  const out = new Float32Array(m * d);
  for (let i = 0; i < m; i++) for (let j = 0; j < d; j++) out[i * d + j] = inputs[i * d + j] * weights[j];
  return out;
}

/** The rows whose activation reaches fraction x the maximum activation; none when the maximum is not positive. */
export function neuronExamples(activations: Float32Array, fraction = 0.75): Int32Array {
  let max = -Infinity;
  for (const a of activations) if (a > max) max = a;
  if (!(max > 0)) return new Int32Array(0);
  const rows: number[] = [];
  for (let i = 0; i < activations.length; i++) if (activations[i] >= fraction * max) rows.push(i);
  return Int32Array.from(rows);
}

/**
 * Clusters one neuron's example embeddings (Foote 2024): the connected components of the graph joining
 * examples whose embeddings' cosine similarity reaches the threshold. Several large components mean the
 * neuron responds to several unrelated input patterns. An all-zero embedding stays on its own.
 */
export function neuronClusters(embeddings: Float32Array, m: number, d: number, options: NeuronClusterOptions = {}): NeuronClusters {
  checkTable('neuronClusters', embeddings, m, d);
  const threshold = options.threshold ?? 0.5;
  const minMembers = options.minMembers ?? 2;
  const rows = Array.from({ length: m }, (_, i) => embeddings.subarray(i * d, i * d + d));
  const components = new UnionFind(m);
  for (let a = 0; a < m; a++) {
    for (let b = a + 1; b < m; b++) if (cosine(rows[a], rows[b]) >= threshold) components.union(a, b);
  }
  const clusters = components.groups().sort((x, y) => y.length - x.length || x[0] - y[0]);
  return { clusters, polysemanticity: clusters.filter((c) => c.length >= minMembers).length };
}

/** Disjoint sets over 0..n-1 with path halving and union by size. */
class UnionFind {
  private readonly parent: Int32Array;
  private readonly size: Int32Array;

  constructor(n: number) {
    this.parent = Int32Array.from({ length: n }, (_, i) => i);
    this.size = new Int32Array(n).fill(1);
  }

  find(x: number): number {
    while (this.parent[x] !== x) {
      this.parent[x] = this.parent[this.parent[x]];
      x = this.parent[x];
    }
    return x;
  }

  union(a: number, b: number): void {
    let ra = this.find(a);
    let rb = this.find(b);
    if (ra === rb) return;
    if (this.size[ra] < this.size[rb]) [ra, rb] = [rb, ra];
    this.parent[rb] = ra;
    this.size[ra] += this.size[rb];
  }

  /** Members of each set, ascending, in order of their smallest member. */
  groups(): number[][] {
    const byRoot = new Map<number, number[]>();
    for (let i = 0; i < this.parent.length; i++) {
      const root = this.find(i);
      const group = byRoot.get(root);
      if (group) group.push(i);
      else byRoot.set(root, [i]);
    }
    return [...byRoot.values()];
  }
}
