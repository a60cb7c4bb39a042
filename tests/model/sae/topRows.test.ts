import { describe, expect, it } from 'vitest';
import { createRng } from '../../../src/lib/rng';
import type { SparseLatents } from '../../../src/model/sae/sae';
import { latentColumn } from '../../../src/model/sae/sae';
import { latentTopRows, strongestLatents } from '../../../src/model/sae/topRows';

/** Random sparse latents: up to `active` distinct latents per row, values rounded so that ties happen. */
function randomLatents(count: number, dSae: number, active: number, seed: number): SparseLatents {
  const random = createRng(seed);
  const rowStart = [0];
  const latent: number[] = [];
  const value: number[] = [];
  for (let r = 0; r < count; r++) {
    const picked = new Set<number>();
    const n = Math.floor(random() * (active + 1));
    while (picked.size < n) picked.add(Math.floor(random() * dSae));
    const entries = [...picked].map((i) => [i, Math.round(random() * 8) / 8 + 0.125] as const).sort((a, b) => b[1] - a[1]);
    for (const [i, v] of entries) latent.push(i), value.push(v);
    rowStart.push(latent.length);
  }
  return { count, dSae, rowStart: Int32Array.from(rowStart), latent: Int32Array.from(latent), value: Float32Array.from(value) };
}

describe('latentTopRows', () => {
  it('equals a brute-force ranking per latent (value descending, earlier row first on ties)', () => {
    const latents = randomLatents(300, 12, 4, 5);
    for (const k of [0, 1, 5, 400]) {
      const top = latentTopRows(latents, k);
      for (let i = 0; i < latents.dSae; i++) {
        const all: [number, number][] = [];
        for (let r = 0; r < latents.count; r++) {
          for (let e = latents.rowStart[r]; e < latents.rowStart[r + 1]; e++) if (latents.latent[e] === i) all.push([r, latents.value[e]]);
        }
        const expected = all.sort((a, b) => b[1] - a[1] || a[0] - b[0]).slice(0, k);
        expect(Array.from(top.rows[i])).toEqual(expected.map(([r]) => r));
        expect(Array.from(top.values[i])).toEqual(expected.map(([, v]) => v));
      }
    }
  });
});

describe('strongestLatents', () => {
  it("ranks latents by their mean over the rows as each latent's dense column does (silent rows 0; ties: lower latent)", () => {
    const latents = randomLatents(300, 12, 4, 9);
    const rows = Array.from({ length: 40 }, (_, n) => (n * 7) % 300);
    const expected = Array.from({ length: latents.dSae }, (_, i) => {
      const column = latentColumn(latents, i);
      const on = rows.filter((r) => column[r] > 0);
      return { latent: i, mean: rows.reduce((s, r) => s + column[r], 0) / rows.length, fired: on.length / rows.length };
    })
      .filter((l) => l.fired > 0)
      .sort((a, b) => b.mean - a.mean || a.latent - b.latent);
    for (const k of [1, 5, 12]) {
      const got = strongestLatents(latents, rows, k);
      expect(got.map((l) => l.latent)).toEqual(expected.slice(0, k).map((l) => l.latent));
      got.forEach((l, n) => {
        expect(l.mean).toBeCloseTo(expected[n].mean, 6);
        expect(l.fired).toBe(expected[n].fired);
      });
    }
  });

  it('leaves out latents silent on every row, and refuses rows it has not encoded', () => {
    const latents: SparseLatents = { count: 2, dSae: 3, rowStart: Int32Array.from([0, 1, 1]), latent: Int32Array.from([2]), value: Float32Array.from([0.5]) };
    expect(strongestLatents(latents, [0, 1], 3)).toEqual([{ latent: 2, mean: 0.25, fired: 0.5 }]);
    expect(() => strongestLatents(latents, [2], 3)).toThrow(/Row 2 is not one of the 2 rows/);
    expect(() => strongestLatents(latents, [], 3)).toThrow(/No rows/);
  });
});
