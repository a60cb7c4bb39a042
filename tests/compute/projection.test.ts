import { describe, expect, it } from 'vitest';
import { project, TSNE_JS_MAX_POINTS } from '../../src/compute/projection';
import type { ProjectionMethod } from '../../src/compute/types';
import { createRng, gaussian } from '../../src/lib/rng';
import { nearestSameCluster } from './mixture';

/** Three well-separated Gaussian blobs in 20-d. */
function blobs(perBlob: number, seed: number) {
  const random = createRng(seed);
  const d = 20;
  const n = 3 * perBlob;
  const data = new Float32Array(n * d);
  for (let i = 0; i < n; i++) for (let k = 0; k < d; k++) data[i * d + k] = gaussian(random) * 0.3 + (k === Math.floor(i / perBlob) ? 8 : 0);
  return { data, n, d, label: Int32Array.from({ length: n }, (_, i) => Math.floor(i / perBlob)) };
}

describe('project', () => {
  for (const method of ['umap', 'tsne', 'umap-js', 'tsne-js'] as ProjectionMethod[]) {
    for (const metric of ['euclidean', 'cosine'] as const) {
      it(`${method} (${metric}) lays out separated blobs apart`, async () => {
        const { data, n, d, label } = blobs(40, 1);
        const layout = await project(data, n, d, { method, metric, pcaDims: method.endsWith('js') ? 10 : 0, seed: 3, iterations: method === 'tsne-js' ? 300 : undefined });
        expect(layout.length).toBe(2 * n);
        expect([...layout].every(Number.isFinite)).toBe(true);
        expect(nearestSameCluster(layout, label)).toBeGreaterThan(0.95);
      });
    }
  }

  it('is reproducible for a fixed seed', async () => {
    const { data, n, d } = blobs(30, 2);
    const a = await project(data, n, d, { method: 'umap', metric: 'euclidean', pcaDims: 5, seed: 9 });
    const b = await project(data, n, d, { method: 'umap', metric: 'euclidean', pcaDims: 5, seed: 9 });
    expect(Array.from(a)).toEqual(Array.from(b));
  });

  it('caps exact tsne-js with a message that names the alternatives', async () => {
    const n = TSNE_JS_MAX_POINTS + 1;
    await expect(project(new Float32Array(n * 2), n, 2, { method: 'tsne-js', metric: 'euclidean', pcaDims: 0, seed: 0 })).rejects.toThrow(
      /tsne-js computes exact O\(N²\) t-SNE .* pick this project's t-SNE or UMAP/,
    );
  });

  it('refuses too few points and unknown methods, and honours an aborted signal', async () => {
    await expect(project(new Float32Array(4), 2, 2, { method: 'umap', metric: 'euclidean', pcaDims: 0, seed: 0 })).rejects.toThrow(/At least 3/);
    await expect(project(new Float32Array(20), 10, 2, { method: 'pca' as ProjectionMethod, metric: 'euclidean', pcaDims: 0, seed: 0 })).rejects.toThrow(/Unknown projection method/);
    const controller = new AbortController();
    controller.abort();
    await expect(project(new Float32Array(20), 10, 2, { method: 'umap', metric: 'euclidean', pcaDims: 0, seed: 0 }, undefined, controller.signal)).rejects.toMatchObject({ name: 'AbortError' });
  });
});
