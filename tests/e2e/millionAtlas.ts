import { assembleAtlas, DEFAULT_ATLAS_PARAMS, withPreviews, type Atlas, type RecordedOf } from '../../src/compute/atlas';
import { createRng, gaussian } from '../../src/lib/rng';

/** Clusters of the synthetic layout: their labels colour the points. */
export const MIXTURE_CLUSTERS = 12;

/**
 * A precomputed atlas of `n` points from a seeded mixture: 12 Gaussian clusters of different sizes and spreads in
 * the layout (and in an 8-dimensional activation space, so cell means and rankings mean something), over a thin
 * uniform background. The levels come from the real grid code (assembleAtlas, buildLevels), one input per point.
 */
export function mixtureAtlas(n: number, seed = 17): Atlas {
  const random = createRng(seed);
  const dim = 8;
  const centres = Array.from({ length: MIXTURE_CLUSTERS }, () => ({
    x: 0.1 + 0.8 * random(),
    y: 0.1 + 0.8 * random(),
    spread: 0.015 + 0.06 * random(),
    weight: 0.5 + random(),
    direction: Float32Array.from({ length: dim }, () => gaussian(random)),
  }));
  const totalWeight = centres.reduce((a, c) => a + c.weight, 0);
  const layout = new Float32Array(2 * n);
  const values = new Float32Array(n * dim);
  const labels: (string | null)[] = new Array(n);
  for (let p = 0; p < n; p++) {
    if (random() < 0.04) {
      layout[2 * p] = random();
      layout[2 * p + 1] = random();
      labels[p] = null;
      for (let k = 0; k < dim; k++) values[p * dim + k] = gaussian(random);
      continue;
    }
    let pick = random() * totalWeight;
    let c = 0;
    while (pick > centres[c].weight && c < centres.length - 1) pick -= centres[c++].weight;
    const centre = centres[c];
    layout[2 * p] = centre.x + centre.spread * gaussian(random);
    layout[2 * p + 1] = centre.y + centre.spread * gaussian(random);
    labels[p] = `cluster ${c}`;
    for (let k = 0; k < dim; k++) values[p * dim + k] = centre.direction[k] + 0.3 * gaussian(random);
  }
  const recorded: RecordedOf<'precomputed'> = {
    modality: 'precomputed',
    model: { name: 'mixture.npy', kind: 'npy', rows: n, classNames: null },
    previews: {},
    table: {
      layer: 'mixture',
      dim,
      count: n,
      values,
      input: Uint32Array.from({ length: n }, (_, p) => p),
      position: new Int32Array(n).fill(-1),
      positionShape: [],
      totalBeforeSampling: n,
    },
    layerShape: [dim],
    samplesPerInput: 'pooled',
    names: Array.from({ length: n }, (_, p) => `row ${p}`),
    labels,
    predicted: new Int32Array(n).fill(-1),
    probability: new Float32Array(n),
    notices: [],
  };
  const params = { ...DEFAULT_ATLAS_PARAMS, pcaDims: 0, samplesPerInput: 'pooled' as const, topK: 8 };
  const { previews: _, ...columns } = recorded;
  return withPreviews(assembleAtlas(columns, layout, params), recorded);
}
