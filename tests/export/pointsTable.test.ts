import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { parquetMetadata, parquetReadObjects } from 'hyparquet';
import type { Atlas } from '../../src/compute/atlas';
import { cellOf } from '../../src/compute/grid';
import {
  atlasPointColumns,
  checkPointRows,
  readPointsJsonl,
  readPointsParquet,
  writeAtlasPointsParquet,
  writePointsJsonl,
  writePointsTableParquet,
} from '../../src/export/pointsTable';
import { pythonHas } from '../python';

const hasPyarrow = pythonHas('pyarrow');

const rows = [
  { label: 'cat', text: 'a cat on a mat' },
  { label: 'dog', text: null },
  { label: null, text: 'ünïcödé, "quotes"\nand a newline' },
];

describe('points tables', () => {
  it('round-trips label and text through JSONL, ignoring other columns with a notice', () => {
    const text = writePointsJsonl(rows);
    expect(text.trim().split('\n')).toHaveLength(3);
    const read = readPointsJsonl(`${text}\n${JSON.stringify({ label: 'eel', id: 7, score: 0.5 })}\n`, 'p.jsonl');
    expect(read.rows).toBe(4);
    expect(read.label).toEqual(['cat', 'dog', null, 'eel']);
    expect(read.text).toEqual(['a cat on a mat', null, rows[2].text, null]);
    expect(read.image).toBeNull();
    expect(read.notices).toEqual(['p.jsonl: ignored columns "id", "score" (a points table reads label, text, image).']);
  });

  it('names the line of a JSONL table that is not an object, or whose text is not a string', () => {
    expect(() => readPointsJsonl('{"label": "a"}\n[1, 2]\n', 'p.jsonl')).toThrow('p.jsonl line 2: expected a JSON object');
    expect(() => readPointsJsonl('{"label": "a"}\n{"text": {"x": 1}}\n', 'p.jsonl')).toThrow('p.jsonl line 2: "text" must be a string, got object.');
    expect(() => readPointsJsonl('{"label": "a"}\nnope\n', 'p.jsonl')).toThrow(/p\.jsonl line 2: not JSON/);
  });

  it('round-trips label, text and image through Parquet, and reads numbers as text', async () => {
    const image = ['data:image/png;base64,iVBORw0KGgo=', null, null];
    const bytes = writePointsTableParquet({ label: rows.map((r) => r.label), text: rows.map((r) => r.text), image });
    const read = await readPointsParquet(bytes, 'p.parquet');
    expect(read).toEqual({ rows: 3, label: ['cat', 'dog', null], text: rows.map((r) => r.text), image, notices: [] });
    expect(() => writePointsTableParquet({ label: ['a'], text: ['a', 'b'] })).toThrow('differ in length: label 1, text 2');
    await expect(readPointsParquet(new TextEncoder().encode('{"label": 1}'), 'p.parquet')).rejects.toThrow(/p\.parquet is not a Parquet file/);
  });

  it('refuses a table whose row count differs, saying what was expected', () => {
    const table = readPointsJsonl(writePointsJsonl(rows));
    expect(() => checkPointRows(table, 600, 'points.jsonl', 'acts.npy')).toThrow(
      'points.jsonl has 3 rows, but acts.npy has 600: expected one row of the points table per activation row, in the same order.',
    );
    expect(() => checkPointRows(table, 3, 'points.jsonl', 'acts.npy')).not.toThrow();
  });
});

/** A text atlas of one document, two recorded tokens, one 2x2 level whose only cell holds the first point. */
function tinyTextAtlas(): Atlas {
  const tokens = ['<|endoftext|>', 'Call', ' me', ' Ish', 'mael'];
  return {
    modality: 'text',
    model: { name: 'tiny', kind: 'gpt2', nLayer: 1, nEmbd: 2, contextLength: 8, vocabSize: 50257, classNames: null },
    inputs: { names: ['doc'], label: [0], predicted: [-1], probability: [0], tokenIds: [[50256, 1, 2, 3, 4]], tokens: [tokens] },
    layer: { name: 'h.0.mlp.act', shape: [8, 2], dim: 2, positionShape: [8] },
    params: {} as Atlas['params'],
    labelNames: ['sea'],
    points: {
      input: Uint32Array.of(0, 0),
      position: Int32Array.of(2, 4),
      layoutX: Float32Array.of(0.1, 0.9),
      layoutY: Float32Array.of(0.2, 0.7),
      totalBeforeSampling: 2,
    },
    levels: [
      { size: 1, cells: [] },
      {
        size: 2,
        cells: [{ i: 0, j: 0, count: 1, mean: new Float32Array(2), labels: [], top: [], exemplar: { row: 0, input: 0, position: 2, score: 0 } }],
      },
    ],
    notices: [],
  };
}

describe("an atlas's points as Parquet", () => {
  it('has x, y, the finest grid cell ("i,j", null where the cell was dropped), input, position, label and the text up to the recorded token', async () => {
    const atlas = tinyTextAtlas();
    const columns = atlasPointColumns(atlas);
    expect(columns.cell).toEqual(['0,0', null]);
    expect(columns.text).toEqual(['Call me', 'Call me Ishmael']);
    const bytes = writeAtlasPointsParquet(atlas);
    const read = await parquetReadObjects({ file: bytes });
    expect(read).toEqual([
      { x: 0.1, y: 0.2, cell: '0,0', input: 0, position: 2, label: 'sea', text: 'Call me' },
      { x: 0.9, y: 0.7, cell: null, input: 0, position: 4, label: 'sea', text: 'Call me Ishmael' },
    ]);
    const meta = parquetMetadata(bytes);
    expect(JSON.parse(meta.key_value_metadata!.find((kv) => kv.key === 'activation-atlas')!.value!)).toMatchObject({ cellGridSize: 2, layer: 'h.0.mlp.act' });
    expect(cellOf(0.9, 2)).toBe(1);
  });

  it('finds the cell of a point whose stored (rounded) coordinate fell onto the other side of a cell boundary', () => {
    const atlas = tinyTextAtlas();
    // Binned from 0.499996 into cell 0; the file keeps 0.5, which alone would say cell 1.
    atlas.points.layoutX = Float32Array.of(0.5, 0.9);
    expect(atlasPointColumns(atlas).cell).toEqual(['0,0', null]);
  });

  it.skipIf(!hasPyarrow)('opens in pyarrow', () => {
    const bytes = Buffer.from(writeAtlasPointsParquet(tinyTextAtlas()));
    const out = execFileSync('python3', ['-c', 'import sys, io, pyarrow.parquet as pq; t = pq.read_table(io.BytesIO(sys.stdin.buffer.read())); print(t.num_rows, t.column_names)'], {
      input: bytes,
    }).toString();
    expect(out.trim()).toBe("2 ['x', 'y', 'cell', 'input', 'position', 'label', 'text']");
  });
});
