import { writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parquetReadObjects } from 'hyparquet';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { buildPrecomputedAtlasInNode, writePointsParquet } from '../../src/cli/precomputed';
import { npyFloat32 } from '../../src/export/npy';
import { parseAtlas, serializeAtlas } from '../../src/export/atlasFile';
import { writePointsJsonl, writePointsTableParquet } from '../../src/export/pointsTable';
import { clusteredRows, CLUSTERS } from '../export/clusters';
import { tempDir } from '../tempDir';

const ROWS = 300;
const DIM = 12;
const FAST = { method: 'umap' as const, pcaDims: 0, iterations: 60, gridSizes: [4, 8], seed: 3 };

function files() {
  const dir = tempDir('precomputed-');
  const { values, label, text } = clusteredRows(ROWS, DIM);
  const npy = join(dir, 'acts.npy');
  writeFileSync(npy, npyFloat32(values, [ROWS, DIM]));
  const parquet = join(dir, 'points.parquet');
  writeFileSync(parquet, new Uint8Array(writePointsTableParquet({ label, text })));
  return { dir, npy, parquet, label, text, values };
}

describe('buildPrecomputedAtlasInNode', () => {
  it('builds an atlas without a model: one pooled point per row, labels and texts from the points table, every cell one cluster', async () => {
    const f = files();
    const { atlas, errors, units } = await buildPrecomputedAtlasInNode({ activations: f.npy, points: f.parquet, params: FAST });
    expect(errors).toEqual([]);
    expect(atlas.modality).toBe('precomputed');
    expect(atlas.model).toEqual({ name: 'acts.npy', kind: 'npy', rows: ROWS, classNames: null });
    expect(atlas.inputs.names).toHaveLength(ROWS);
    expect(atlas.points.input).toHaveLength(ROWS);
    expect(new Set(atlas.points.position)).toEqual(new Set([-1]));
    expect([...atlas.labelNames].sort()).toEqual(CLUSTERS.map((c) => c.label).sort());
    if (atlas.modality !== 'precomputed') throw new Error('not precomputed');
    expect(atlas.inputs.texts).toEqual(f.text);
    expect(atlas.inputs.label.map((l) => atlas.labelNames[l])).toEqual(f.label);
    // Three separated clusters: every cell of the finest grid holds rows of one label only.
    const finest = atlas.levels[atlas.levels.length - 1];
    expect(finest.cells.every((c) => c.labels.length === 1)).toBe(true);
    expect(finest.cells.some((c) => c.keys)).toBe(false);
    // Every unit's statistics cover every row; unit 0 is high in cluster 0 only.
    expect(units.rows).toBe(ROWS);
    expect(atlas.units).toEqual(units);
    expect(units.top[0].every(([input]) => input % 3 === 0)).toBe(true);
    // The file round-trips.
    const reopened = parseAtlas(serializeAtlas(atlas));
    expect(reopened.modality).toBe('precomputed');
    expect(reopened.inputs).toEqual(atlas.inputs);
    expect(reopened.units?.top[0]).toEqual(units.top[0]);
  });

  it('reads a JSONL points table, and without one names rows by their index', async () => {
    const f = files();
    const jsonl = join(f.dir, 'points.jsonl');
    writeFileSync(jsonl, writePointsJsonl(f.label.map((label, k) => ({ label, text: f.text[k] }))));
    const withTable = await buildPrecomputedAtlasInNode({ activations: f.npy, points: jsonl, params: FAST });
    expect(withTable.atlas.labelNames).toHaveLength(3);
    const bare = await buildPrecomputedAtlasInNode({ activations: f.npy, params: FAST });
    expect(bare.atlas.inputs.names.slice(0, 3)).toEqual(['0', '1', '2']);
    expect(bare.atlas.labelNames).toEqual([]);
  });

  it('reads image paths beside the table into PNG thumbnails; a missing one is listed and its row shows its label', async () => {
    const f = files();
    const png = await sharp({ create: { width: 96, height: 80, channels: 3, background: { r: 200, g: 30, b: 30 } } }).png().toBuffer();
    writeFileSync(join(f.dir, 'red.png'), png);
    const jsonl = join(f.dir, 'points.jsonl');
    writeFileSync(jsonl, writePointsJsonl(f.label.map((label, k) => ({ label, image: k === 0 ? 'red.png' : k === 1 ? 'missing.png' : null }))));
    const { atlas, errors } = await buildPrecomputedAtlasInNode({ activations: f.npy, points: jsonl, params: FAST });
    if (atlas.modality !== 'precomputed') throw new Error('not precomputed');
    expect(atlas.inputs.images![0]).toMatch(/^data:image\/png;base64,/);
    const thumb = await sharp(Buffer.from(atlas.inputs.images![0]!.split(',')[1], 'base64')).metadata();
    expect([thumb.width, thumb.height]).toEqual([64, 53]);
    expect(atlas.inputs.images!.slice(1, 3)).toEqual([null, null]);
    expect(errors).toEqual([{ name: 'row 1', reason: expect.stringMatching(/its image missing\.png could not be read/) }]);
  });

  it('refuses a points table with another row count, saying what it expected', async () => {
    const f = files();
    const short = join(f.dir, 'short.parquet');
    writeFileSync(short, new Uint8Array(writePointsTableParquet({ label: f.label.slice(0, 299) })));
    await expect(buildPrecomputedAtlasInNode({ activations: f.npy, points: short, params: FAST })).rejects.toThrow(
      'short.parquet has 299 rows, but acts.npy has 300: expected one row of the points table per activation row, in the same order.',
    );
  });

  it('refuses an NPY of another dtype, saying what it expected', async () => {
    const f = files();
    const ints = join(f.dir, 'ints.npy');
    // The same bytes, announced as int32.
    const bytes = npyFloat32(new Float32Array(ROWS * DIM), [ROWS, DIM]);
    const at = Buffer.from(bytes).indexOf("'<f4'");
    bytes[at + 2] = 'i'.charCodeAt(0);
    writeFileSync(ints, bytes);
    await expect(buildPrecomputedAtlasInNode({ activations: ints, points: f.parquet, params: FAST })).rejects.toThrow(
      "ints.npy holds '<i4' (int32): expected a 2-D C-order array (rows x dim) of little-endian float32 ('<f4')",
    );
  });

  it("writes the atlas's points as Parquet, read back with the layout, cells, labels and texts", async () => {
    const f = files();
    const { atlas } = await buildPrecomputedAtlasInNode({ activations: f.npy, points: f.parquet, params: FAST });
    const out = join(f.dir, 'atlas-points.parquet');
    await writePointsParquet(atlas, out);
    const bytes = await readFile(out);
    const rows = await parquetReadObjects({ file: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) });
    expect(rows).toHaveLength(ROWS);
    expect(Object.keys(rows[0])).toEqual(['x', 'y', 'cell', 'input', 'position', 'label', 'text']);
    for (const r of rows) {
      expect(r.label).toBe(f.label[r.input as number]);
      expect(r.text).toBe(f.text[r.input as number]);
      expect(r.position).toBe(-1);
      expect(r.cell).toMatch(/^\d+,\d+$/);
    }
  });
});
