import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { assembleAtlas, buildAtlas, DEFAULT_ATLAS_PARAMS, finiteRows, joinPreviews, keepRows, layoutAtlas, slicePreviews, withoutPreviews, withPreviews, withRecordedPreviews, type Atlas, type RecordedColumns } from '../../src/compute/atlas';
import { ATLAS_VERSION, AtlasFileError, BINARY_INPUTS_FROM, parseAtlas, serializeAtlas } from '../../src/export/atlasFile';
import { base64ToBytes, bytesToBase64 } from '../../src/lib/base64';
import { createRng, gaussian } from '../../src/lib/rng';

function recorded(n = 60, dim = 6): RecordedColumns {
  const random = createRng(1);
  return {
    modality: 'image',
    model: { name: 'm', kind: 'layers', inputHeight: 8, inputWidth: 12, inputChannels: 3, classNames: ['dog', 'cat', 'bird'] },
    table: {
      layer: 'conv3',
      dim,
      count: n,
      values: new Float32Array(n * dim).map(() => gaussian(random)),
      input: Uint32Array.from({ length: n }, (_, i) => i % 20),
      position: Int32Array.from({ length: n }, (_, i) => i % 6),
      positionShape: [2, 3],
      totalBeforeSampling: n,
    },
    layerShape: [2, 3, dim],
    samplesPerInput: 3,
    names: Array.from({ length: 20 }, (_, i) => `img${i}.png`),
    labels: Array.from({ length: 20 }, (_, i) => (i % 4 === 0 ? null : i % 2 ? 'cat' : 'dog')),
    predicted: Int32Array.from({ length: 20 }, (_, i) => i % 3),
    probability: new Float32Array(20).fill(0.5),
    previews: { thumbnails: Array.from({ length: 20 }, () => 'data:image/png;base64,AAAA') },
    notices: [],
  };
}

const PARAMS = { ...DEFAULT_ATLAS_PARAMS, method: 'umap' as const, pcaDims: 0, nNeighbors: 7, minDist: 0.4, perplexity: 12, iterations: 50, gridSizes: [20, 40], topK: 4 };

function smallAtlas(): Atlas {
  const random = createRng(2);
  const rec = recorded();
  return withPreviews(assembleAtlas(rec, new Float32Array(60 * 2).map(() => random()), PARAMS), rec);
}

const fixture = (name: string) => readFileSync(new URL(`../fixtures/${name}`, import.meta.url), 'utf8');

type Column = Uint32Array | Int32Array | Float32Array;
/** A version-3 file's base64 column, changed by `edit` and written back (as a hand-edited or corrupt file would be). */
function editColumn<T extends Column>(text: string, Type: new (buffer: ArrayBuffer) => T, edit: (column: T) => void): string {
  const column = new Type(base64ToBytes(text).buffer);
  edit(column);
  return bytesToBase64(new Uint8Array(column.buffer));
}

describe('atlas file', () => {
  it('round-trips: the re-imported atlas has the same cells, means, rankings, modality and parameters', () => {
    const atlas = smallAtlas();
    const json = JSON.parse(serializeAtlas(atlas));
    expect(json.version).toBe(ATLAS_VERSION);
    expect(json.modality).toBe('image');
    expect(json.params).toEqual({ ...PARAMS, samplesPerInput: 3 });
    const back = parseAtlas(JSON.stringify(json));
    expect(back.levels.map((l) => l.cells.length)).toEqual(atlas.levels.map((l) => l.cells.length));
    for (let li = 0; li < atlas.levels.length; li++) {
      atlas.levels[li].cells.forEach((c, ci) => {
        const d = back.levels[li].cells[ci];
        expect([d.i, d.j, d.count]).toEqual([c.i, c.j, c.count]);
        expect(Array.from(d.mean)).toEqual(Array.from(c.mean));
        expect(d.top.map((t) => [t.row, t.input, t.position])).toEqual(c.top.map((t) => [t.row, t.input, t.position]));
        expect(d.labels).toEqual(c.labels);
      });
    }
    expect(back.inputs).toEqual(atlas.inputs);
    expect(back.points).toEqual(atlas.points);
    expect(back.layer).toEqual({ name: 'conv3', shape: [2, 3, 6], dim: 6, positionShape: [2, 3] });
    expect(back.params).toEqual(atlas.params);
  });

  it('builds without handing the previews to the layout stage, and puts them back on the atlas', async () => {
    const rec = recorded();
    let given: object | null = null;
    const { atlas } = await buildAtlas(
      { layer: 'conv3', params: PARAMS },
      {
        record: async () => ({ ...rec, errors: [] }),
        layout: async (columns, params) => {
          given = columns;
          return layoutAtlas(columns, { ...params, iterations: 20 });
        },
      },
    );
    expect(given).not.toHaveProperty('previews');
    expect(atlas.modality).toBe('image');
    expect(atlas.inputs).toMatchObject(rec.previews);
    expect(parseAtlas(serializeAtlas(atlas)).inputs).toEqual(atlas.inputs);
  });

  it('refuses previews of another recording', () => {
    const rec = recorded();
    const laid = assembleAtlas(rec, new Float32Array(60 * 2).fill(0.5), PARAMS);
    const text = { ...rec, modality: 'text', previews: { tokenIds: [], tokens: [] } } as unknown as RecordedColumns;
    expect(() => withPreviews(laid, text)).toThrow(/image layout cannot take text previews/);
    expect(() => withPreviews(laid, { ...rec, names: rec.names.slice(1) })).toThrow(/20 inputs and the recording 19/);
  });

  it('cuts previews into slices and joins them back, and refuses previews that do not fit the recording', () => {
    const text = { tokenIds: [[1, 2], [3], [4, 5, 6], [7]], tokens: [['a', 'b'], ['c'], ['d', 'e', 'f'], ['g']] };
    expect(joinPreviews([slicePreviews(text, 0, 3), slicePreviews(text, 3, 4)])).toEqual(text);
    const rec = recorded();
    const { thumbnails } = rec.previews as { thumbnails: string[] };
    const back = joinPreviews([0, 7, 14].map((s) => slicePreviews({ thumbnails }, s, Math.min(20, s + 7))));
    expect(withRecordedPreviews(withoutPreviews(rec), back)).toEqual(rec);
    expect(() => withRecordedPreviews(withoutPreviews(rec), slicePreviews({ thumbnails }, 0, 19))).toThrow(/20 inputs but 19 image previews/);
    expect(() => withRecordedPreviews(withoutPreviews(rec), text)).toThrow(/20 inputs but no image previews/);
  });

  it('maps true labels and predictions onto one list of label names', () => {
    const atlas = smallAtlas();
    expect(atlas.labelNames).toEqual(['dog', 'cat', 'bird']);
    expect(atlas.inputs.label[1]).toBe(1); // 'cat'
    expect(atlas.inputs.label[0]).toBe(-1); // unknown
    expect(atlas.inputs.predicted[2]).toBe(2); // class 2 = 'bird'
  });

  it('opens version-1 files written by the CLI before format 2, positions migrated from (x, y)', () => {
    for (const name of ['atlas-v1-spatial.json', 'atlas-v1-pooled.json']) {
      const v1 = JSON.parse(fixture(name));
      expect(v1.version).toBe(1);
      const atlas = parseAtlas(fixture(name));
      expect(atlas.modality).toBe('image');
      expect(atlas.inputs.names).toHaveLength(40);
      expect(atlas.params.gridSizes).toEqual(v1.levels.map((l: { size: number }) => l.size));
      expect(atlas.params).toMatchObject({ method: v1.params.method, seed: v1.params.seed, samplesPerInput: v1.params.samplesPerImage, iterations: null });
      const { gridWidth, gridHeight } = v1.layer;
      const spatial = v1.params.samplesPerImage !== 'pooled';
      expect(atlas.layer.positionShape).toEqual([gridHeight, gridWidth]);
      atlas.points.position.forEach((p, k) => expect(p).toBe(v1.points.x[k] < 0 ? -1 : v1.points.y[k] * gridWidth + v1.points.x[k]));
      expect(atlas.points.position.every((p) => (spatial ? p >= 0 : p === -1))).toBe(true);
      const cell = atlas.levels[0].cells[0];
      const [row, input, x, y] = v1.levels[0].cells[0].top[0];
      expect(cell.top[0]).toMatchObject({ row, input, position: x < 0 ? -1 : y * gridWidth + x });
      // A migrated file saves as the current version and opens again unchanged.
      expect(parseAtlas(serializeAtlas(atlas)).points).toEqual(atlas.points);
    }
  });

  it('opens version-2 files (every column a JSON array), image and text, into the same typed columns, and saves them as version 3 unchanged', () => {
    for (const name of ['atlas-v2-image.json', 'atlas-v2-text.json']) {
      const v2 = JSON.parse(fixture(name));
      expect(v2.version).toBe(2);
      const atlas = parseAtlas(fixture(name));
      const stored = v2.modality === 'text' ? v2.points.token : v2.points.position;
      expect(atlas.modality).toBe(v2.modality);
      expect(atlas.points.input).toBeInstanceOf(Uint32Array);
      expect(Array.from(atlas.points.input)).toEqual(v2.points.input);
      expect(Array.from(atlas.points.position)).toEqual(stored);
      expect(Array.from(atlas.points.layoutX)).toEqual(v2.points.layoutX.map(Math.fround));
      expect(Array.from(atlas.points.layoutY)).toEqual(v2.points.layoutY.map(Math.fround));
      expect(atlas.points.totalBeforeSampling).toBe(v2.points.totalBeforeSampling);
      expect(atlas.inputs).toEqual(v2.inputs);
      expect(atlas.levels.map((l) => l.cells.length)).toEqual(v2.levels.map((l: { cells: unknown[] }) => l.cells.length));
      expect(atlas.notices).toEqual(v2.notices);
      const v3 = JSON.parse(serializeAtlas(atlas));
      expect(v3.version).toBe(3);
      expect(typeof v3.points.input).toBe('string');
      const again = parseAtlas(JSON.stringify(v3));
      expect(again.points).toEqual(atlas.points);
      expect(again.inputs).toEqual(atlas.inputs);
      expect(again.levels).toEqual(atlas.levels);
    }
  });

  it('writes the points as base64 little-endian typed columns, and from BINARY_INPUTS_FROM inputs the numeric input columns too', () => {
    const small = JSON.parse(serializeAtlas(smallAtlas()));
    expect(small.points.count).toBe(60);
    expect(new Uint32Array(base64ToBytes(small.points.input).buffer)).toEqual(smallAtlas().points.input);
    expect(Array.isArray(small.inputs.label)).toBe(true);
    const n = BINARY_INPUTS_FROM;
    const base = recorded(n, 2);
    if (base.modality !== 'image') throw new Error('expected an image recording');
    const rec: RecordedColumns = {
      ...base,
      names: Array.from({ length: n }, (_, i) => `img${i}.png`),
      labels: Array.from({ length: n }, (_, i) => (i % 7 === 0 ? null : i % 2 ? 'cat' : 'dog')),
      predicted: Int32Array.from({ length: n }, (_, i) => (i % 5 === 0 ? -1 : i % 3)),
      probability: Float32Array.from({ length: n }, (_, i) => (i % 97) / 96),
      previews: { thumbnails: Array.from({ length: n }, () => 'data:image/png;base64,AAAA') },
    };
    rec.table.input = Uint32Array.from({ length: n }, (_, i) => i);
    const random = createRng(3);
    const atlas = withPreviews(assembleAtlas(rec, new Float32Array(2 * n).map(() => random()), PARAMS), rec);
    const json = JSON.parse(serializeAtlas(atlas));
    for (const key of ['label', 'predicted', 'probability']) expect(typeof json.inputs[key]).toBe('string');
    const back = parseAtlas(JSON.stringify(json));
    expect(back.inputs).toEqual(atlas.inputs);
    expect(back.points).toEqual(atlas.points);
    json.inputs.label = editColumn(json.inputs.label, Int32Array, (c) => (c[5] = -2));
    expect(() => parseAtlas(JSON.stringify(json))).toThrow(/inputs.label\[5\] is -2, below -1/);
  });

  it('refuses a version-2 file with a NaN written as null, naming the field', () => {
    const json = JSON.parse(fixture('atlas-v2-image.json'));
    json.points.layoutX[3] = null;
    expect(() => parseAtlas(JSON.stringify(json))).toThrow(/points.layoutX\[3\]: Invalid type/);
  });

  it('drops non-finite activations with a notice that counts them, so the app can open its own export', async () => {
    const rec = recorded(80, 4);
    rec.table.values[3 * 4 + 1] = Number.NaN;
    rec.table.values[10 * 4] = Number.POSITIVE_INFINITY;
    const atlas = withPreviews(await layoutAtlas(rec, { ...PARAMS, iterations: 30 }), rec);
    expect(atlas.points.input).toHaveLength(78);
    expect(atlas.notices.join(' ')).toMatch(/Dropped 2 activations with NaN or infinite values/);
    const text = serializeAtlas(atlas);
    expect(text).not.toMatch(/null/);
    expect(parseAtlas(text).notices).toEqual(atlas.notices);
  });

  it('keeps exactly the finite rows', () => {
    const values = Float32Array.from([1, 2, Number.NaN, 4, 5, 6, 7, -Infinity]);
    const { keep, dropped } = finiteRows(values, 4, 2);
    expect(Array.from(keep)).toEqual([1, 0, 1, 0]);
    expect(dropped).toBe(2);
    const table = keepRows({ ...recorded(4, 2).table, values }, keep);
    expect(Array.from(table.values)).toEqual([1, 2, 5, 6]);
    expect(Array.from(table.input)).toEqual([0, 2]);
    expect(Array.from(table.position)).toEqual([0, 2]);
  });

  describe('pictures from an untrusted file', () => {
    const PNG = 'data:image/png;base64,iVBORw0KGgo=';
    const hostile = ['https://tracker.example/pixel.png', 'blob:https://example.org/1234', 'javascript:alert(1)', 'data:text/html;base64,PHNjcmlwdD4=', 'data:image/svg+xml;base64,PHN2Zz4=', 'data:image/png,notbase64', 'data:image/png;base64,<script>'];

    it('keeps only base64 PNG, JPEG and WebP thumbnails; the rest become blank, with a notice the page shows', () => {
      const json = JSON.parse(serializeAtlas(smallAtlas()));
      json.inputs.thumbnails = json.inputs.thumbnails.map((_: string, k: number) => hostile[k] ?? (k % 3 === 0 ? PNG : k % 3 === 1 ? 'data:image/jpeg;base64,/9j/4A==' : 'data:image/webp;base64,UklGRg=='));
      const atlas = parseAtlas(JSON.stringify(json));
      if (atlas.modality !== 'image') throw new Error('expected an image atlas');
      for (const url of atlas.inputs.thumbnails) expect(url).toMatch(/^data:image\/(png|jpeg|webp);base64,[A-Za-z0-9+/]*=*$/);
      expect(atlas.inputs.thumbnails.slice(hostile.length)).toEqual(json.inputs.thumbnails.slice(hostile.length));
      expect(new Set(atlas.inputs.thumbnails.slice(0, hostile.length)).size).toBe(1);
      expect(atlas.notices).toEqual([expect.stringMatching(/^inputs\.thumbnails: 7 of 20 were not base64 data:image\/png, jpeg or webp URLs and were dropped \(the first at \[0\]\)/)]);
    });

    it('drops feature-visualisation icons that are not inline images, keeping the others and saying so', () => {
      const json = JSON.parse(serializeAtlas(smallAtlas()));
      json.notices = ['an earlier notice'];
      json.icons = { '20:0:0': PNG, ...Object.fromEntries(hostile.map((url, k) => [`20:1:${k}`, url])) };
      const atlas = parseAtlas(JSON.stringify(json));
      expect(atlas.icons).toEqual({ '20:0:0': PNG });
      expect(atlas.notices).toEqual(['an earlier notice', expect.stringMatching(/^icons: 7 of 8 were not .* \(the first at "20:1:0"\); those cells show their exemplars\.$/)]);
    });

    it('checks the pictures of version-1 files too', () => {
      const json = JSON.parse(fixture('atlas-v1-spatial.json'));
      json.inputs.thumbnails[0] = 'https://tracker.example/pixel.png';
      const atlas = parseAtlas(JSON.stringify(json));
      expect(atlas.modality === 'image' && atlas.inputs.thumbnails[0]).toMatch(/^data:image\/png;base64,/);
      expect(atlas.notices).toEqual([expect.stringMatching(/^inputs\.thumbnails: 1 of \d+ were not/)]);
    });
  });

  const broken: [string, (f: any) => unknown, RegExp][] = [
    ['not JSON', () => '{oops', /not JSON/],
    ['a foreign JSON file', () => ({ hello: 'world' }), /"format" is undefined/],
    ['a newer version', (f) => ({ ...f, version: 99 }), /newer than this app/],
    ['an unknown modality', (f) => ({ ...f, modality: 'audio' }), /modality: Invalid type: Expected \("image" \| "text" \| "precomputed"\) but received "audio"/],
    ['a missing input column', (f) => ({ ...f, inputs: { ...f.inputs, label: [] } }), /inputs.label holds 0 values for 20 inputs/],
    ['a point of an unknown input', (f) => ({ ...f, points: { ...f.points, input: editColumn(f.points.input, Uint32Array, (c) => c.fill(999)) } }), /points.input\[0\] is 999, but there are 20 inputs/],
    ['a position outside the layer', (f) => ({ ...f, points: { ...f.points, position: editColumn(f.points.position, Int32Array, (c) => c.fill(6)) } }), /points.position\[0\] is 6, but layer conv3 has 6 positions/],
    ['a position below -1', (f) => ({ ...f, points: { ...f.points, position: editColumn(f.points.position, Int32Array, (c) => (c[4] = -3)) } }), /points.position\[4\] is -3, below -1/],
    ['a column of the wrong length', (f) => ({ ...f, points: { ...f.points, layoutY: bytesToBase64(new Uint8Array(8)) } }), /points.layoutY holds 8 bytes, expected 240 \(60 values\)/],
    ['a column that is not base64', (f) => ({ ...f, points: { ...f.points, layoutX: '%%%' } }), /points.layoutX is not readable base64/],
    ['a label outside the label names', (f) => ({ ...f, inputs: { ...f.inputs, label: f.inputs.label.map(() => 7) } }), /inputs.label\[0\] is 7, but there are 3 label names/],
    ['a NaN layout coordinate', (f) => ({ ...f, points: { ...f.points, layoutX: editColumn(f.points.layoutX, Float32Array, (c) => (c[2] = Number.NaN)) } }), /points.layoutX\[2\] is not a finite number/],
    ['a point column as a JSON array', (f) => ({ ...f, points: { ...f.points, input: [0, 1] } }), /points.input: Invalid type: Expected string/],
    ['a cell outside its grid', (f) => ({ ...f, levels: [{ size: 2, cells: [{ ...f.levels[0].cells[0], i: 5 }] }] }), /levels\[0\].cells\[0\] \(5, \d+\) lies outside its 2x2 grid/],
    ['a top point that is not the point it names', (f) => ({ ...f, levels: [{ ...f.levels[0], cells: [{ ...f.levels[0].cells[0], exemplar: [0, 19, 0, 1] }] }] }), /levels\[0\].cells\[0\].exemplar says point 0 is input 19/],
    ['a malformed count', (f) => ({ ...f, levels: [{ ...f.levels[0], cells: [{ ...f.levels[0].cells[0], count: 'many' }] }] }), /levels\[0\].cells\[0\].count: Invalid type/],
    ['a wrong-length mean', (f) => ({ ...f, levels: [{ size: 20, cells: [{ ...f.levels[0].cells[0], mean: 'AAAAAA==' }] }] }), /levels\[0\].cells\[0\].mean holds 1 values, expected 6/],
    ['an unreadable mean', (f) => ({ ...f, levels: [{ size: 20, cells: [{ ...f.levels[0].cells[0], mean: '%%%' }] }] }), /mean is not readable/],
    ['a missing projection parameter', (f) => ({ ...f, params: { ...f.params, perplexity: undefined } }), /params.perplexity: Invalid key/],
    ['no levels', (f) => ({ ...f, levels: [] }), /levels: an atlas needs at least one grid level/],
  ];
  for (const [what, mutate, message] of broken) {
    it(`rejects ${what} with a message naming the field`, () => {
      const good = JSON.parse(serializeAtlas(smallAtlas()));
      const bad = mutate(good);
      const text = typeof bad === 'string' ? bad : JSON.stringify(bad);
      expect(() => parseAtlas(text)).toThrow(AtlasFileError);
      expect(() => parseAtlas(text)).toThrow(message);
    });
  }
});
