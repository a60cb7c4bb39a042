import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { cellOf } from '../../src/compute/grid';
import { parseAtlas } from '../../src/export/atlasFile';
import { LayoutFitError, parseLayoutFit, serializeLayoutFit } from '../../src/export/layoutFit';
import { npyFloat32 } from '../../src/export/npy';
import { fitLayout } from '../../src/compute/scaleLayout';
import { mixture } from '../compute/mixture';
import { tempDir } from '../tempDir';

const run = promisify(execFile);
const root = new URL('../..', import.meta.url).pathname;
const ROWS = 3000;
const DIM = 8;
const LAYOUT = ['--pca', '0', '--iterations', '60', '--grid', '10,20', '--seed', '4'];

function cli(args: string[]) {
  return run('node', ['--import', 'tsx', 'src/cli/atlas.ts', ...args], { cwd: root, maxBuffer: 1 << 26 });
}

describe('placing a shard\'s rows into the merge\'s fitted layout (--fit-out, --fit)', () => {
  it('puts every row of a shard where the whole run put it, binned into the same cells', async () => {
    const dir = tempDir('fit-cli-');
    const { data } = mixture(ROWS, DIM, 5, 7);
    writeFileSync(join(dir, 'all.npy'), npyFloat32(data, [ROWS, DIM]));
    const shardRows = Array.from({ length: ROWS }, (_, i) => i).filter((i) => i % 3 === 1);
    const shard = new Float32Array(shardRows.length * DIM);
    shardRows.forEach((row, k) => shard.set(data.subarray(row * DIM, (row + 1) * DIM), k * DIM));
    writeFileSync(join(dir, 'shard.npy'), npyFloat32(shard, [shardRows.length, DIM]));

    const whole = await cli(['--activations', join(dir, 'all.npy'), ...LAYOUT, '--fit-sample', '1000', '--fit-out', join(dir, 'layout.json'), '--threads', '2', '--out', join(dir, 'all.json')]);
    expect(whole.stdout).toContain('the layout fitted on 1000 rows');
    const placed = await cli(['--activations', join(dir, 'shard.npy'), ...LAYOUT, '--fit', join(dir, 'layout.json'), '--threads', '1', '--out', join(dir, 'shard.json')]);
    expect(placed.stdout).toContain(`${shardRows.length} points`);

    const all = parseAtlas(readFileSync(join(dir, 'all.json'), 'utf8'));
    const part = parseAtlas(readFileSync(join(dir, 'shard.json'), 'utf8'));
    expect(all.notices.join(' ')).toContain('fitted on 1,000 of the 3,000 rows');
    shardRows.forEach((row, k) => {
      expect(part.points.layoutX[k]).toBe(all.points.layoutX[row]);
      expect(part.points.layoutY[k]).toBe(all.points.layoutY[row]);
      for (const g of [10, 20]) expect(cellOf(part.points.layoutX[k], g)).toBe(cellOf(all.points.layoutX[row], g));
    });
  }, 120_000);

  it('refuses a fit file that is not one, or rows of another width, saying why', async () => {
    const dir = tempDir('fit-cli-');
    writeFileSync(join(dir, 'rows.npy'), npyFloat32(new Float32Array(40 * 3).map((_, k) => Math.sin(k)), [40, 3]));
    writeFileSync(join(dir, 'bad.json'), JSON.stringify({ format: 'activation-atlas' }));
    await expect(cli(['--activations', join(dir, 'rows.npy'), '--pca', '0', '--fit', join(dir, 'bad.json'), '--out', join(dir, 'a.json')])).rejects.toMatchObject({
      stderr: expect.stringContaining('Not a layout fit'),
    });
    const { data } = mixture(200, DIM, 3, 1);
    writeFileSync(join(dir, 'fit.json'), serializeLayoutFit(await fitLayout(data, 200, DIM, { method: 'umap', metric: 'euclidean', pcaDims: 0, seed: 1, iterations: 30 })));
    await expect(cli(['--activations', join(dir, 'rows.npy'), '--pca', '0', '--fit', join(dir, 'fit.json'), '--out', join(dir, 'a.json')])).rejects.toMatchObject({
      stderr: expect.stringContaining('takes rows of 8 values; these have 3'),
    });
  }, 120_000);
});

describe('layout fit files', () => {
  it('round-trip a UMAP and a t-SNE fit with PCA exactly, and name the broken field of a damaged one', async () => {
    const { data } = mixture(300, 12, 3, 2);
    for (const method of ['umap', 'tsne'] as const) {
      const fit = await fitLayout(data, 300, 12, { method, metric: 'cosine', pcaDims: 5, seed: 2, iterations: 40 });
      expect(parseLayoutFit(serializeLayoutFit(fit))).toEqual(fit);
    }
    const fit = await fitLayout(data, 300, 12, { method: 'umap', metric: 'euclidean', pcaDims: 0, seed: 2, iterations: 40 });
    const json = JSON.parse(serializeLayoutFit(fit));
    json.fit.fitted.index.graphRows = json.fit.fitted.index.leafRows;
    expect(() => parseLayoutFit(JSON.stringify(json))).toThrow(LayoutFitError);
    expect(() => parseLayoutFit(JSON.stringify(json))).toThrow('search graph');
  });
});
