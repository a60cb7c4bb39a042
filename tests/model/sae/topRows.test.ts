import { describe, expect, it } from 'vitest';
import { createRng } from '../../../src/lib/rng';
import type { SparseLatents } from '../../../src/model/sae/sae';
import { latentTopRows } from '../../../src/model/sae/topRows';

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
