import { describe, expect, it } from 'vitest';
import { latentAtlasFiles, latentPoint } from '../../src/export/latentAtlasFiles';
import { bytesSource, npyRowChunks, readNpyHeader } from '../../src/export/npyRead';
import { readPointsJsonl } from '../../src/export/pointsTable';

describe('latentAtlasFiles', () => {
  it("writes the live latents' unit decoder rows and a points table naming each by its top examples, in latent order", async () => {
    // Four latents of a 2-wide SAE; latent 1 is dead.
    const decoder = Float32Array.from([3, 4, 1, 1, 0, -2, 5, 12]);
    const latents = [
      { index: 0, frequency: 0.5, topExamples: [{ label: 'Bag' }, { label: 'Bag' }, { label: 'Coat' }] },
      { index: 1, frequency: 0, topExamples: [] },
      { index: 2, frequency: 0.1, topExamples: [{ token: ' sea' }, { token: ' ship' }, { token: ' sea' }] },
      { index: 3, frequency: 0.2, topExamples: [] },
    ];
    const files = latentAtlasFiles(decoder, 2, latents);
    expect(files.live).toBe(3);
    const source = bytesSource(files.npy);
    const header = await readNpyHeader(source);
    expect([header.rows, header.dim, header.dtype]).toEqual([3, 2, '<f4']);
    const rows: number[] = [];
    for await (const chunk of npyRowChunks(source, header)) rows.push(...chunk.values);
    const expected = [3 / 5, 4 / 5, 0, -1, 5 / 13, 12 / 13];
    rows.forEach((v, k) => expect(v).toBeCloseTo(expected[k], 6));
    const table = readPointsJsonl(files.jsonl);
    expect(table.rows).toBe(3);
    expect(table.label).toEqual(['Bag', 'sea', null]);
    expect(table.text).toEqual(['#0 · Bag ×2 · Coat', '#2 · sea ×2 · ship', '#3']);
  });

  it('refuses an SAE with fewer than two live latents', () => {
    expect(() => latentAtlasFiles(new Float32Array(4), 2, [{ index: 0, frequency: 1, topExamples: [] }, { index: 1, frequency: 0, topExamples: [] }])).toThrow(/1 live latent\(s\)/);
  });

  it('prefers tokens to labels when a latent has both', () => {
    expect(latentPoint({ index: 7, frequency: 1, topExamples: [{ token: '\n', label: 'x' }] })).toEqual({ text: '#7 · \n', label: '\n' });
  });
});
