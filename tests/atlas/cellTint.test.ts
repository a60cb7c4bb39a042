import { beforeAll, describe, expect, it } from 'vitest';
import { samplePoints } from '../../src/compute/directions/vectors';
import { parseTokenList } from '../../src/lib/tokenList';
import { cellTints, tintColour } from '../../src/atlas/cellTint';
import { DEFAULT_ATLAS_PARAMS, withPreviews, type Atlas } from '../../src/compute/atlas';
import { pooledRecording } from '../compute/recorded';
import type { Concept } from '../../src/compute/directions/concept';
import { cellOf } from '../../src/compute/grid';
import { atlasToJson, parseAtlas } from '../../src/export/atlasFile';
import { createRng, gaussian } from '../../src/lib/rng';
import { createComputeService } from '../../src/workers/computeService';

const n = 300;
const dim = 8;
const random = createRng(2);
const values = Float32Array.from({ length: n * dim }, () => gaussian(random));
const direction = Float32Array.from({ length: dim }, (_, k) => (k === 0 ? 0.6 : k === 1 ? 0.8 : 0));
const concept: Concept = { id: 'c', name: 'planted', layer: 'l', method: 'difference-of-means', direction, accuracy: 0.9, folds: 5, positives: 10, negatives: 20, source: 'test' };
let atlas: Atlas;

beforeAll(async () => {
  const recorded = pooledRecording(values.slice(), n, dim);
  const laid = await createComputeService().layoutAtlas({ signal: new AbortController().signal, progress: () => {} }, recorded, { ...DEFAULT_ATLAS_PARAMS, iterations: 20, gridSizes: [8] });
  atlas = withPreviews(laid.atlas, recorded);
});

/** Each point's cell key at grid g, as the atlas bins them. */
const cellKey = (p: number, g: number) => `${cellOf(atlas.points.layoutX[p], g)}:${cellOf(atlas.points.layoutY[p], g)}`;

describe('cell tints', () => {
  it('a concept tints each cell by the mean of its points\' scores (brute force), centred on the mean over points', () => {
    const level = atlas.levels[0];
    const tints = cellTints(atlas, level, { kind: 'concept', id: 'c' }, [concept])!;
    const sums = new Map<string, [number, number]>();
    let total = 0;
    for (let p = 0; p < n; p++) {
      const score = 0.6 * values[p * dim] + 0.8 * values[p * dim + 1];
      total += score;
      const [s, c] = sums.get(cellKey(p, level.size)) ?? [0, 0];
      sums.set(cellKey(p, level.size), [s + score, c + 1]);
    }
    expect(tints.values.size).toBe(sums.size);
    for (const [key, [s, c]] of sums) expect(tints.values.get(key)).toBeCloseTo(s / c, 4);
    expect(tints.centre).toBeCloseTo(total / n, 4);
  });

  it('a class tints each cell by the sum of its points\' attributions, or the sampled mean times the count', () => {
    const level = atlas.levels[0];
    const attribution = Float32Array.from({ length: n }, (_, p) => (p % 5) - 2);
    const all = cellTints(atlas, level, { kind: 'class', target: 'k', values: attribution }, [])!;
    const sums = new Map<string, number>();
    for (let p = 0; p < n; p++) sums.set(cellKey(p, level.size), (sums.get(cellKey(p, level.size)) ?? 0) + attribution[p]);
    for (const [key, s] of sums) expect(all.values.get(key)).toBeCloseTo(s, 5);
    expect(all.centre).toBe(0);
    const sampled = attribution.map((v, p) => (p % 2 ? Number.NaN : v));
    const estimate = cellTints(atlas, level, { kind: 'class', target: 'k', values: sampled }, [])!;
    for (const key of estimate.values.keys()) {
      const members = Array.from({ length: n }, (_, p) => p).filter((p) => cellKey(p, level.size) === key);
      const kept = members.filter((p) => p % 2 === 0);
      expect(estimate.values.get(key)).toBeCloseTo((kept.reduce((s, p) => s + attribution[p], 0) / kept.length) * members.length, 4);
    }
    expect(cellTints(atlas, level, { kind: 'none' }, [])).toBeNull();
  });

  it('colours diverge around the centre and grow more opaque further out', () => {
    expect(tintColour(1, 0, 1)[0]).toBeGreaterThan(tintColour(1, 0, 1)[2]);
    expect(tintColour(-1, 0, 1)[2]).toBeGreaterThan(tintColour(-1, 0, 1)[0]);
    expect(tintColour(0.9, 0, 1)[3]).toBeGreaterThan(tintColour(0.1, 0, 1)[3]);
    expect(tintColour(5, 0, 1)).toEqual(tintColour(1, 0, 1));
  });

  it('concepts travel in the atlas file; one learnt at another layer is refused with its path', () => {
    const json = atlasToJson({ ...atlas, concepts: [concept] });
    const back = parseAtlas(JSON.stringify(json));
    expect(back.concepts).toHaveLength(1);
    expect(Array.from(back.concepts![0].direction)).toEqual(Array.from(direction));
    expect({ ...back.concepts![0], direction: null }).toEqual({ ...concept, direction: null });
    const wrong = { ...json, concepts: [{ ...json.concepts![0], layer: 'other' }] };
    expect(() => parseAtlas(JSON.stringify(wrong))).toThrow(/concepts\[0\]\.layer/);
    const short = { ...json, concepts: [{ ...json.concepts![0], direction: json.levels[0].cells[0].mean.slice(0, 8) }] };
    expect(() => parseAtlas(JSON.stringify(short))).toThrow(/concepts\[0\]\.direction/);
    expect(parseAtlas(JSON.stringify(atlasToJson(atlas))).concepts).toBeUndefined();
  });
});

describe('concept panel helpers', () => {
  it('reads next tokens as words after a space, or quoted exact tokens', () => {
    expect(parseTokenList(' whale, sea ,"ing",, ')).toEqual([' whale', ' sea', 'ing']);
  });
  it('samples points without replacement, seeded, ascending', () => {
    const a = samplePoints(1000, 50, 3);
    expect(a).toEqual(samplePoints(1000, 50, 3));
    expect(new Set(a).size).toBe(50);
    expect([...a].sort((x, y) => x - y)).toEqual(a);
    expect(samplePoints(5, 50, 3)).toEqual([0, 1, 2, 3, 4]);
  });
});
