import { describe, expect, it } from 'vitest';
import { nodeRangePool } from '../../src/cli/rangePool';
import { layoutQuality } from '../../src/compute/quality';
import { umap } from '../../src/compute/umap';
import { structuredMixture } from '../compute/mixture';

describe('UMAP on worker threads', () => {
  it('gives the same layout on 2 threads as on one, and past 20,000 points keeps the serial SGD\'s quality', async () => {
    const n = 21_000;
    const d = 16;
    const data = structuredMixture(n, d, 3);
    const options = { seed: 4, epochs: 60 };
    const alone = await umap(data, n, d, options);
    const pool = nodeRangePool({ threads: 2 });
    try {
      const pooled = await umap(data, n, d, { ...options, runner: pool });
      expect(pooled).toEqual(alone);
    } finally {
      pool.dispose();
    }
    // The chunked SGD against the serial one on the same graph size just below the threshold's reach: a 20,999-row
    // prefix runs serially; their recall@15 agree within a few percent.
    const serial = await umap(data.subarray(0, 19_999 * d), 19_999, d, options);
    const [chunked] = layoutQuality(data, n, d, [alone], { sampleSize: 400, seed: 1 });
    const [plain] = layoutQuality(data.subarray(0, 19_999 * d), 19_999, d, [serial], { sampleSize: 400, seed: 1 });
    expect(chunked.recall).toBeGreaterThan(0.85 * plain.recall);
    expect(chunked.trustworthiness).toBeGreaterThan(plain.trustworthiness - 0.01);
  }, 120_000);
});
