import { describe, expect, it } from 'vitest';
import { directionCoherence, dissectionRate, labelPurity, randomRotation, randomRotationColumns, rotateRows } from '../../../src/compute/directions/basisVsRandom';
import {
  directionVector,
  DISSECTION_UNITS,
  neuronsVersusRandom,
  streamSeed,
  studyDeck,
  studyReveal,
  topDistinct,
  topSpread,
  type VersusRandomResult,
} from '../../../src/compute/directions/versusRandom';
import { createRng, gaussian } from '../../../src/lib/rng';
import { basisAligned } from './planted';


function bruteTop(scores: ArrayLike<number>, topN: number, groups?: ArrayLike<number>): number[] {
  const rows = Array.from({ length: scores.length }, (_, i) => i).sort((a, b) => scores[b] - scores[a] || a - b);
  if (!groups) return rows.slice(0, topN);
  const seen = new Set<number>();
  return rows.filter((r) => !seen.has(groups[r]) && seen.add(groups[r])).slice(0, topN);
}

const column = (values: Float32Array, n: number, dim: number, j: number) => Float32Array.from({ length: n }, (_, i) => values[i * dim + j]);

const n = 2000;
const dim = 16;

describe('neuronsVersusRandom on a planted structure', () => {
  it.each([1, 2, 3])('finds neurons purer than random directions and the basis a detector more often than rotations (seed %i)', async (seed) => {
    const { values, labels } = basisAligned(n, dim, seed);
    const result = await neuronsVersusRandom(values, n, dim, labels, { k: 16, topN: 20, seed, rotations: 5 });
    expect(result.neurons).toBe(16); // dim <= k: every live neuron
    expect(result.summary.neuron.purity!.mean - result.summary.random.purity!.mean).toBeGreaterThan(0.4);
    expect(result.tests.purity!.t).toBeGreaterThan(0);
    expect(result.tests.purity!.p).toBeLessThan(1e-6);
    const d = result.dissection!;
    expect(d.basis).toBeGreaterThanOrEqual(0.9);
    expect(d.rotatedMean).toBeLessThanOrEqual(0.2);
    expect(d.rotated).toHaveLength(5);
    expect(d.p).toBeCloseTo(1 / 6, 12); // no rotation reaches the basis
  });

  it.each([1, 2, 3])('finds no difference once the data is rotated by a random orthogonal matrix (seed %i)', async (seed) => {
    const { values, labels } = basisAligned(n, dim, seed);
    const rotated = rotateRows(values, n, dim, randomRotation(dim, 99 + seed));
    const result = await neuronsVersusRandom(rotated, n, dim, labels, { k: 16, topN: 20, seed, rotations: 5 });
    expect(result.tests.purity!.p).toBeGreaterThan(0.05);
    expect(Math.abs(result.summary.neuron.purity!.mean - result.summary.random.purity!.mean)).toBeLessThan(0.1);
    const d = result.dissection!;
    expect(d.basis).toBeLessThanOrEqual(0.2);
    expect(Math.abs(d.basis - d.rotatedMean)).toBeLessThanOrEqual(0.1);
    expect(d.p).toBeGreaterThan(0.3);
  });

  it("counts the dissection as basisVsRandom's dissectionRate does, for the basis and each seeded rotation", async () => {
    const { values, labels } = basisAligned(600, 8, 7);
    const result = await neuronsVersusRandom(values, 600, 8, labels, { k: 4, topN: 10, seed: 3, rotations: 3, threshold: 0.6 });
    const d = result.dissection!;
    expect(d).toMatchObject({ threshold: 0.6, topN: 10, units: 8 });
    expect(d.basis).toBe(dissectionRate(values, 600, 8, labels, null, 0.6, 10));
    d.rotated.forEach((rate, r) => expect(rate).toBe(dissectionRate(values, 600, 8, labels, randomRotation(8, streamSeed(3, 2 + r)), 0.6, 10)));
  });
});

describe('the dissection of a wide layer', () => {
  it('scores the first DISSECTION_UNITS columns of each rotation, which are exactly the whole rotation\'s first columns', async () => {
    const dim = DISSECTION_UNITS + 44;
    const full = randomRotation(dim, 5);
    const first = randomRotationColumns(dim, DISSECTION_UNITS, 5);
    let worst = 0;
    for (let i = 0; i < dim; i++) for (let c = 0; c < DISSECTION_UNITS; c++) worst = Math.max(worst, Math.abs(first[i * DISSECTION_UNITS + c] - full[i * dim + c]));
    expect(worst).toBeLessThan(1e-12);

    const rows = 300;
    const random = createRng(4);
    const values = Float32Array.from({ length: rows * dim }, () => gaussian(random));
    const labels = Int32Array.from({ length: rows }, (_, i) => i % 3);
    const result = await neuronsVersusRandom(values, rows, dim, labels, { k: 4, topN: 6, seed: 2, rotations: 2, threshold: 0.6 });
    const d = result.dissection!;
    expect(d).toMatchObject({ units: dim, unitsPerRotation: DISSECTION_UNITS });
    d.rotated.forEach((rate, r) => {
      // Brute force over the same columns of the whole rotation.
      const coordinates = rotateRows(values, rows, dim, randomRotation(dim, streamSeed(2, 2 + r)));
      let passed = 0;
      for (let c = 0; c < DISSECTION_UNITS; c++) {
        const top = bruteTop(column(coordinates, rows, dim, c), 6);
        if (labelPurity(top, labels) >= 0.6) passed++;
      }
      expect(rate).toBe(passed / DISSECTION_UNITS);
    });
  });
});

describe('neuronsVersusRandom directions and scores', () => {
  const { values, labels } = basisAligned(500, 12, 11);

  it('samples k live neurons with a seed and scores them and as many random unit directions by their top rows', async () => {
    const result = await neuronsVersusRandom(values, 500, 12, labels, { k: 5, topN: 8, seed: 4, rotations: 2 });
    expect(result).toMatchObject({ n: 500, dim: 12, k: 5, topN: 8, seed: 4, inputs: 500, liveNeurons: 12, neurons: 5 });
    const neurons = result.directions.filter((d) => d.kind === 'neuron');
    const randoms = result.directions.filter((d) => d.kind === 'random');
    expect(result.directions.slice(0, 5)).toEqual(neurons); // neurons first, then random directions
    expect(randoms.map((d) => d.index)).toEqual([0, 1, 2, 3, 4]);
    const ids = neurons.map((d) => d.index);
    expect(ids).toEqual([...ids].sort((a, b) => a - b));
    expect(new Set(ids).size).toBe(5);
    for (const d of neurons) {
      expect(d.direction).toBeUndefined();
      const scores = column(values, 500, 12, d.index);
      expect(Array.from(d.top)).toEqual(bruteTop(scores, 8));
      expect(d.purity).toBe(labelPurity(d.top, labels));
      expect(d.coherence).toBeCloseTo(directionCoherence(values, 500, 12, d.top), 12);
      expect(d.spread).toBeCloseTo(topSpread(scores, d.top), 12);
    }
    for (const d of randoms) {
      expect(Math.hypot(...d.direction!)).toBeCloseTo(1, 5);
      const scores = Array.from({ length: 500 }, (_, i) => d.direction!.reduce((s, v, j) => s + v * values[i * 12 + j], 0));
      expect(Array.from(d.top)).toEqual(bruteTop(scores, 8));
    }
    expect(result.summary.neuron.spread.count).toBe(5);
    expect(result.summary.neuron.coherence.mean).toBeCloseTo(neurons.reduce((s, d) => s + d.coherence, 0) / 5, 12);
  });

  it('is reproducible by seed and differs between seeds', async () => {
    const options = { k: 5, topN: 8, rotations: 2 };
    const a = await neuronsVersusRandom(values, 500, 12, labels, { ...options, seed: 4 });
    expect(await neuronsVersusRandom(values, 500, 12, labels, { ...options, seed: 4 })).toEqual(a);
    const b = await neuronsVersusRandom(values, 500, 12, labels, { ...options, seed: 5 });
    expect(b.directions.map((d) => d.index).slice(0, 5)).not.toEqual(a.directions.map((d) => d.index).slice(0, 5));
    expect(b.directions[5].direction).not.toEqual(a.directions[5].direction);
    expect(b.dissection!.rotated).not.toEqual(a.dissection!.rotated);
  });

  it('leaves dead neurons out, takes every live one when there are at most k, and skips purity without labels', async () => {
    const relu = values.map((v, i) => (i % 12 < 3 ? 0 : Math.max(0, v))); // neurons 0-2 dead
    relu[7 * 12 + 1] = 2; // neuron 1 fires on one row only: its top 8 are ties at 0 beyond it
    const result = await neuronsVersusRandom(relu, 500, 12, null, { k: 32, topN: 8 });
    expect(result.liveNeurons).toBe(9);
    expect(result.directions.filter((d) => d.kind === 'neuron').map((d) => d.index)).toEqual([3, 4, 5, 6, 7, 8, 9, 10, 11]);
    expect(result.directions.filter((d) => d.kind === 'random')).toHaveLength(9);
    expect(result.directions.every((d) => d.purity === null)).toBe(true);
    expect(result.summary.neuron.purity).toBeNull();
    expect(result.tests.purity).toBeNull();
    expect(result.tests.coherence).not.toBeNull();
    expect(result.dissection).toBeNull();

    const withLabels = await neuronsVersusRandom(relu, 500, 12, labels, { k: 32, topN: 8, rotations: 1, threshold: 0.01 });
    expect(withLabels.dissection!.basis).toBeCloseTo(9 / 12, 12); // dead units count, and fail
  });

  it('takes the top N as distinct inputs when rows are grouped by input', async () => {
    // Each input is recorded at 4 positions; input 0's positions all lead neuron 0.
    const groups = Int32Array.from({ length: 500 }, (_, i) => Math.floor(i / 4));
    const grouped = values.slice();
    for (let p = 0; p < 4; p++) grouped[p * 12] = 50 + p;
    const result = await neuronsVersusRandom(grouped, 500, 12, labels, { k: 12, topN: 6, groups, rotations: 0 });
    expect(result.inputs).toBe(125);
    const neuron0 = result.directions.find((d) => d.kind === 'neuron' && d.index === 0)!;
    expect(neuron0.top[0]).toBe(3); // input 0 at its best position, once
    for (const d of result.directions) {
      expect(new Set(Array.from(d.top, (r) => groups[r])).size).toBe(6);
    }
    expect(Array.from(neuron0.top)).toEqual(bruteTop(column(grouped, 500, 12, 0), 6, groups));
    expect(result.dissection!.rotated).toEqual([]);
    expect(result.dissection!.rotatedMean).toBeNaN();
  });
});

describe('neuronsVersusRandom progress and cancel', () => {
  const { values, labels } = basisAligned(2000, 16, 3);

  it('reports the basis, the directions and each rotation as steps, and gives the same answer as an unwatched run', async () => {
    const steps: [number, number][] = [];
    const watched = await neuronsVersusRandom(values, 2000, 16, labels, { k: 8, topN: 10, rotations: 3 }, { onProgress: (e) => steps.push([e.done, e.total]) });
    expect(steps).toEqual([[1, 5], [2, 5], [3, 5], [4, 5], [5, 5]]);
    expect(watched).toEqual(await neuronsVersusRandom(values, 2000, 16, labels, { k: 8, topN: 10, rotations: 3 }));
  });

  it('stops with an AbortError when cancelled, before or during the run', async () => {
    await expect(neuronsVersusRandom(values, 2000, 16, labels, {}, { signal: AbortSignal.abort() })).rejects.toMatchObject({ name: 'AbortError' });
    const abort = new AbortController();
    let stepsAfterCancel = 0;
    const run = neuronsVersusRandom(values, 2000, 16, labels, { k: 8, topN: 10, rotations: 50 }, {
      signal: abort.signal,
      onProgress: (e) => {
        if (abort.signal.aborted) stepsAfterCancel++;
        if (e.done === 3) abort.abort();
      },
    });
    await expect(run).rejects.toMatchObject({ name: 'AbortError' });
    expect(stepsAfterCancel).toBe(0); // no step starts after the cancel
  });
});

describe('topDistinct and topSpread', () => {
  it('ranks as a brute-force sort does, ties by lower row, with and without groups', () => {
    const random = createRng(2);
    const scores = Float32Array.from({ length: 300 }, () => Math.round(gaussian(random) * 4) / 4); // many ties
    const groups = Int32Array.from({ length: 300 }, () => Math.floor(random() * 40));
    expect(Array.from(topDistinct(scores, 25))).toEqual(bruteTop(scores, 25));
    expect(Array.from(topDistinct(scores, 25, groups))).toEqual(bruteTop(scores, 25, groups));
    expect(Array.from(topDistinct(Float32Array.of(1, 3, 2), 5))).toEqual([1, 2, 0]);
    const tieRank = Int32Array.from({ length: 300 }, (_, i) => (i * 7919) % 300);
    const byRank = (rows: number[]) => rows.sort((a, b) => scores[b] - scores[a] || tieRank[a] - tieRank[b]);
    expect(Array.from(topDistinct(scores, 25, null, tieRank))).toEqual(byRank(Array.from({ length: 300 }, (_, i) => i)).slice(0, 25));
    const seen = new Set<number>();
    const distinct = byRank(Array.from({ length: 300 }, (_, i) => i)).filter((r) => !seen.has(groups[r]) && seen.add(groups[r]));
    expect(Array.from(topDistinct(scores, 25, groups, tieRank))).toEqual(distinct.slice(0, 25));
  });

  it('breaks ties at a saturated top in a seeded order, so that rows sorted by label do not make a tie pure', async () => {
    // Rows sorted by label (as files in class folders are); neuron 0 saturates at 6 on every row but a few.
    const rows = 400;
    const labels = Int32Array.from({ length: rows }, (_, i) => Math.floor(i / 100));
    const random = createRng(8);
    const values = Float32Array.from({ length: rows * 3 }, (_, i) => (i % 3 === 0 ? (i < 30 ? 0 : 6) : gaussian(random)));
    const neuron0 = async (seed: number) => (await neuronsVersusRandom(values, rows, 3, labels, { k: 3, topN: 20, seed, rotations: 0 })).directions.find((d) => d.kind === 'neuron' && d.index === 0)!;
    const a = await neuron0(0);
    expect(a.spread).toBe(0);
    expect(a.purity).toBeLessThan(0.7); // the first 20 saturated rows would all be label 0
    expect(Math.max(...a.top)).toBeGreaterThan(100);
    expect((await neuron0(1)).top).not.toEqual(a.top);
  });

  it('measures the top projections\' spread from the mean of all rows, so a shift of the origin does not change it', () => {
    const projection = [1, 3, 0, 0]; // top rows 0 and 1: std 1, lift 2 - 1
    expect(topSpread(projection, [1, 0])).toBeCloseTo(1, 12);
    expect(topSpread(projection.map((v) => v + 100), [1, 0])).toBeCloseTo(1, 12);
    expect(topSpread([2, 2, 2], [0, 1])).toBeNaN(); // no lift
  });
});

describe('studyDeck and studyReveal', () => {
  const { values, labels } = basisAligned(400, 16, 5);

  function resultWith(k: number): Promise<VersusRandomResult> {
    return neuronsVersusRandom(values, 400, 16, labels, { k, topN: 5, rotations: 0 });
  }

  it('shuffles the k + k directions with a seed under opaque ids and keeps the key apart', async () => {
    const result = await resultWith(10);
    const deck = studyDeck(result, 1);
    expect(deck.cards).toHaveLength(20);
    expect(new Set(deck.cards.map((c) => c.id)).size).toBe(20);
    expect(deck.cards.map((c) => c.id).slice(0, 3)).toEqual(['D01', 'D02', 'D03']);
    expect(deck.key.map((k) => k.direction).sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i));
    deck.cards.forEach((card, i) => {
      const d = result.directions[deck.key[i].direction];
      expect(card.top).toBe(d.top);
      expect(deck.key[i]).toMatchObject({ kind: d.kind, index: d.index });
      expect(Object.keys(card).sort()).toEqual(['id', 'top']);
    });
    expect(deck.key.slice(0, 10).filter((k) => k.kind === 'neuron').length).not.toBe(10); // not neurons first
    expect(studyDeck(result, 1)).toEqual(deck);
    expect(studyDeck(result, 2).key).not.toEqual(deck.key);
  });

  it.each([
    // scipy.stats.fisher_exact([[a, b], [c, d]]), two-sided
    [10, 7, 2, 0.06977851869492736, 9.333333333333334],
    [16, 12, 5, 0.03195238826540324, 6.6],
  ])('reveals the rates and Fisher p of the 2 x 2 table (k = %i: %i of the neurons, %i of the random marked)', async (k, neuronsMarked, randomMarked, p, oddsRatio) => {
    const deck = studyDeck(await resultWith(k), 3);
    const seen = { neuron: 0, random: 0, latent: 0 };
    const marks = deck.key.map((entry) => seen[entry.kind]++ < (entry.kind === 'neuron' ? neuronsMarked : randomMarked));
    const reveal = studyReveal(deck, marks);
    expect(reveal.neuron).toEqual({ interpretable: neuronsMarked, total: k, rate: neuronsMarked / k });
    expect(reveal.random).toEqual({ interpretable: randomMarked, total: k, rate: randomMarked / k });
    expect(reveal.fisher.p).toBeCloseTo(p, 10);
    expect(reveal.fisher.oddsRatio).toBeCloseTo(oddsRatio, 10);
    expect(reveal.cards.map((c) => c.interpretable)).toEqual(marks);
    expect(reveal.cards.map((c) => c.kind)).toEqual(deck.key.map((e) => e.kind));
  });

  it('asks for a mark on every card', async () => {
    const deck = studyDeck(await resultWith(3), 0);
    expect(() => studyReveal(deck, [true, false])).toThrow(/2 marks for 6 cards/);
  });
});

describe('neuronsVersusRandom input checks', () => {
  const { values, labels } = basisAligned(30, 4, 1);
  it.each([
    ['fewer rows than topN', () => neuronsVersusRandom(values, 30, 4, labels, { topN: 40 }), /topN = 40 distinct inputs .* 30 input/],
    ['fewer inputs than topN', () => neuronsVersusRandom(values, 30, 4, labels, { topN: 10, groups: new Int32Array(30).map((_, i) => i % 5) }), /come from 5 input/],
    ['dim 0', () => neuronsVersusRandom(new Float32Array(0), 30, 0, labels), /at least one dimension/],
    ['k < 2', () => neuronsVersusRandom(values, 30, 4, labels, { k: 1, topN: 5 }), /k must be .* at least 2/],
    ['topN < 2', () => neuronsVersusRandom(values, 30, 4, labels, { topN: 1 }), /topN must be/],
    ['a short table', () => neuronsVersusRandom(values, 31, 4, labels, { topN: 5 }), /expected 31 x 4/],
    ['short labels', () => neuronsVersusRandom(values, 30, 4, labels.subarray(0, 10), { topN: 5 }), /10 labels for 30 rows/],
    ['a bad threshold', () => neuronsVersusRandom(values, 30, 4, labels, { topN: 5, threshold: 0 }), /threshold/],
    ['negative group ids', () => neuronsVersusRandom(values, 30, 4, labels, { topN: 5, groups: new Int32Array(30).fill(-1) }), /group ids/],
    ['a constant table', () => neuronsVersusRandom(new Float32Array(120), 30, 4, labels, { topN: 5 }), /only 0 of 4 neurons vary/],
  ])('fails clearly on %s', async (_, call, message) => {
    await expect(call()).rejects.toThrow(message);
  });
});

/** Compressed sparse rows from a dense n x dSae matrix, each row's entries in a seeded order (the scorer must not rely on it). */
function sparseRows(dense: Float32Array, n: number, dSae: number, seed: number) {
  const random = createRng(seed);
  const rowStart = new Int32Array(n + 1);
  const latent: number[] = [];
  const value: number[] = [];
  for (let r = 0; r < n; r++) {
    const active = Array.from({ length: dSae }, (_, i) => i).filter((i) => dense[r * dSae + i] !== 0);
    for (let i = active.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [active[i], active[j]] = [active[j], active[i]];
    }
    for (const i of active) [latent[latent.length], value[value.length]] = [i, dense[r * dSae + i]];
    rowStart[r + 1] = latent.length;
  }
  return { count: n, dSae, rowStart, latent: Int32Array.from(latent), value: Float32Array.from(value) };
}

describe('neuronsVersusRandom with latents', () => {
  const [n, dim, dSae, topN] = [400, 8, 6, 20];
  const { values, labels } = basisAligned(n, dim, 5);
  // Latents whose top rows are known by construction:
  // 0: fires on the rows labelled 3, rising with the row: its top are the last 20 of them, latest first (purity 1);
  // 1: fires on every third row, rising with the row: its top are the last 20 multiples of 3;
  // 2: fires on 5 rows (fewer than topN: a tie at 0 among its top, not live); 3: never fires;
  // 4: 1 on every row (its top a tie at its floor, not live); 5: fires on the rows labelled 5, falling with the row.
  const dense = new Float32Array(n * dSae);
  for (let r = 0; r < n; r++) {
    if (labels[r] === 3) dense[r * dSae] = 1 + r / n;
    if (r % 3 === 0) dense[r * dSae + 1] = 0.5 + r;
    if (r < 5) dense[r * dSae + 2] = 2;
    dense[r * dSae + 4] = 1;
    if (labels[r] === 5) dense[r * dSae + 5] = 2 - r / n;
  }
  const rowsOf = (label: number) => Array.from({ length: n }, (_, r) => r).filter((r) => labels[r] === label);
  const expectedTop: Record<number, number[]> = {
    0: rowsOf(3).reverse().slice(0, topN),
    1: Array.from({ length: n }, (_, r) => r).filter((r) => r % 3 === 0).reverse().slice(0, topN),
    5: rowsOf(5).slice(0, topN),
  };
  const decoder = Float32Array.from({ length: dSae * dim }, (_, i) => i / 10);

  it('scores live latents by their own top rows: purity, spread and coherence as for the others; dead and tied latents are left out', async () => {
    const latents = { ...sparseRows(dense, n, dSae, 1), decoder };
    const result = await neuronsVersusRandom(values, n, dim, labels, { k: 8, topN, seed: 2, rotations: 3, latents });
    expect(result.dictionary).toEqual({ dSae, liveLatents: 3, latents: 3 });
    const scored = result.directions.filter((d) => d.kind === 'latent');
    expect(result.directions.slice(0, 2 * result.neurons).every((d) => d.kind !== 'latent')).toBe(true);
    expect(scored.map((d) => d.index)).toEqual([0, 1, 5]);
    for (const d of scored) {
      const column = Float32Array.from({ length: n }, (_, r) => dense[r * dSae + d.index]);
      expect(Array.from(d.top)).toEqual(expectedTop[d.index]);
      expect(d.purity).toBe(labelPurity(expectedTop[d.index], labels));
      expect(d.spread).toBeCloseTo(topSpread(column, expectedTop[d.index]), 12);
      expect(d.coherence).toBeCloseTo(directionCoherence(values, n, dim, expectedTop[d.index]), 5);
      expect(Array.from(d.direction!)).toEqual(Array.from(decoder.subarray(d.index * dim, (d.index + 1) * dim)));
    }
    expect(scored[0].purity).toBe(1);
    expect(scored[2].purity).toBe(1);
    expect(result.summary.latent!.purity!.count).toBe(3);
    expect(result.summary.latent!.purity!.mean).toBeCloseTo((2 + scored[1].purity!) / 3, 12);
    expect(result.latentTests!.versusNeurons.purity).not.toBeNull();
    expect(result.latentTests!.versusRandom.coherence).not.toBeNull();

    // The dissection over every latent: 0 and 5 pass, 1 passes if its mixed top reaches the threshold; 2, 3, 4 fail.
    const d = result.dissection!;
    const passed = 2 + (scored[1].purity! >= 0.5 ? 1 : 0);
    expect(d.latent).toEqual({ units: dSae, rate: passed / dSae, liveUnits: 3, rateLive: passed / 3, p: (1 + d.rotated.filter((r) => r >= passed / dSae).length) / 4 });
    // The latents change nothing of the neurons' and random directions' scores.
    const plain = await neuronsVersusRandom(values, n, dim, labels, { k: 8, topN, seed: 2, rotations: 3 });
    expect(plain.dictionary).toBeUndefined();
    expect(plain.summary.latent).toBeUndefined();
    expect(result.directions.slice(0, plain.directions.length)).toEqual(plain.directions);
    expect(result.tests).toEqual(plain.tests);
    const { latent: _, ...neuronsDissection } = d;
    expect(neuronsDissection).toEqual(plain.dissection);
  });

  it('samples k live latents with a seed, tests latents against both kinds, and puts them in the study deck', async () => {
    const latents = sparseRows(dense, n, dSae, 2);
    const result = await neuronsVersusRandom(values, n, dim, labels, { k: 2, topN, seed: 4, rotations: 0, latents });
    const again = await neuronsVersusRandom(values, n, dim, labels, { k: 2, topN, seed: 4, rotations: 0, latents: sparseRows(dense, n, dSae, 3) });
    const chosen = result.directions.filter((d) => d.kind === 'latent').map((d) => d.index);
    expect(chosen).toHaveLength(2);
    expect(chosen.every((i) => [0, 1, 5].includes(i))).toBe(true);
    expect(again.directions.filter((d) => d.kind === 'latent').map((d) => d.index)).toEqual(chosen);
    expect(result.directions.filter((d) => d.kind === 'latent')[0].direction).toBeUndefined();
    expect(() => directionVector(result.directions.find((d) => d.kind === 'latent')!, dim)).toThrow(/without the SAE's decoder/);
    const deck = studyDeck(result, 1);
    expect(deck.cards).toHaveLength(result.directions.length);
    const reveal = studyReveal(deck, deck.key.map((k) => k.kind === 'latent'));
    expect(reveal.latent).toEqual({ interpretable: 2, total: 2, rate: 1 });
    expect(reveal.neuron.interpretable).toBe(0);
  });

  it('fails clearly on latents of other rows or with ids outside the dictionary', async () => {
    const latents = sparseRows(dense, n, dSae, 1);
    await expect(neuronsVersusRandom(values, n, dim, labels, { topN, latents: { ...latents, count: n - 1 } })).rejects.toThrow(/latents are of 399 rows, the table has 400/);
    await expect(neuronsVersusRandom(values, n, dim, labels, { topN, latents: { ...latents, dSae: 3 } })).rejects.toThrow(/latent id \d at entry \d+ is outside 0\.\.2/);
    await expect(neuronsVersusRandom(values, n, dim, labels, { topN, latents: { ...latents, decoder: new Float32Array(5) } })).rejects.toThrow(/decoder holds 5 values, not 6 latents x 8/);
  });
});
