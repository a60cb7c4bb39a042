import { describe, expect, it } from 'vitest';
import { assembleAtlas } from '../../src/compute/atlas';
import { AtlasFileError, parseAtlas, serializeAtlas, type Atlas } from '../../src/export/atlasFile';
import { createRng, gaussian } from '../../src/lib/rng';

function smallAtlas(): Atlas {
  const random = createRng(1);
  const n = 60;
  const dim = 6;
  const values = new Float32Array(n * dim).map(() => gaussian(random));
  const layout = new Float32Array(n * 2).map(() => random());
  return assembleAtlas(
    {
      table: {
        layer: 'conv3',
        dim,
        count: n,
        values,
        input: Uint32Array.from({ length: n }, (_, i) => i % 20),
        x: Int16Array.from({ length: n }, (_, i) => i % 3),
        y: Int16Array.from({ length: n }, (_, i) => i % 2),
        gridWidth: 3,
        gridHeight: 2,
        totalBeforeSampling: n,
      },
      layerShape: [2, 3, dim],
      names: Array.from({ length: 20 }, (_, i) => `img${i}.png`),
      labels: Array.from({ length: 20 }, (_, i) => (i % 4 === 0 ? null : i % 2 ? 'cat' : 'dog')),
      predicted: Int32Array.from({ length: 20 }, (_, i) => i % 3),
      probability: new Float32Array(20).fill(0.5),
    },
    layout,
    { name: 'm', kind: 'layers', inputHeight: 8, inputWidth: 12, inputChannels: 3, classNames: ['dog', 'cat', 'bird'] },
    { method: 'umap-js', metric: 'euclidean', pcaDims: 0, seed: 0, samplesPerImage: 3, minCellCount: 1, topK: 4 },
    Array.from({ length: 20 }, () => 'data:image/png;base64,AAAA'),
  );
}

describe('atlas file', () => {
  it('round-trips: the re-imported atlas has the same cells, means and rankings', () => {
    const atlas = smallAtlas();
    const back = parseAtlas(serializeAtlas(atlas));
    expect(back.levels.map((l) => l.cells.length)).toEqual(atlas.levels.map((l) => l.cells.length));
    for (let li = 0; li < atlas.levels.length; li++) {
      atlas.levels[li].cells.forEach((c, ci) => {
        const d = back.levels[li].cells[ci];
        expect([d.i, d.j, d.count]).toEqual([c.i, c.j, c.count]);
        expect(Array.from(d.mean)).toEqual(Array.from(c.mean));
        expect(d.top.map((t) => t.row)).toEqual(c.top.map((t) => t.row));
        expect(d.labels).toEqual(c.labels);
      });
    }
    expect(back.inputs).toEqual(atlas.inputs);
    expect(back.points).toEqual(atlas.points);
  });

  it('maps true labels and predictions onto one list of label names', () => {
    const atlas = smallAtlas();
    expect(atlas.labelNames).toEqual(['dog', 'cat', 'bird']);
    expect(atlas.inputs.label[1]).toBe(1); // 'cat'
    expect(atlas.inputs.label[0]).toBe(-1); // unknown
    expect(atlas.inputs.predicted[2]).toBe(2); // class 2 = 'bird'
  });

  const broken: [string, (f: any) => unknown, RegExp][] = [
    ['not JSON', () => '{oops', /not JSON/],
    ['a foreign JSON file', () => ({ hello: 'world' }), /"format" is undefined/],
    ['a newer version', (f) => ({ ...f, version: 99 }), /newer than this app/],
    ['a missing input column', (f) => ({ ...f, inputs: { ...f.inputs, label: [] } }), /inputs.label must hold/],
    ['a point of an unknown input', (f) => ({ ...f, points: { ...f.points, input: f.points.input.map(() => 999) } }), /input that does not exist/],
    ['a cell outside its grid', (f) => ({ ...f, levels: [{ size: 2, cells: [{ ...f.levels[0].cells[0], i: 5 }] }] }), /outside its grid/],
    ['a wrong-length mean', (f) => ({ ...f, levels: [{ size: 20, cells: [{ ...f.levels[0].cells[0], mean: 'AAAAAA==' }] }] }), /mean of 1 values, expected 6/],
    ['an unreadable mean', (f) => ({ ...f, levels: [{ size: 20, cells: [{ ...f.levels[0].cells[0], mean: '%%%' }] }] }), /unreadable mean/],
    ['no levels', (f) => ({ ...f, levels: [] }), /no grid levels/],
  ];
  for (const [what, mutate, message] of broken) {
    it(`rejects ${what} with a clear message`, () => {
      const good = JSON.parse(serializeAtlas(smallAtlas()));
      const bad = mutate(good);
      const text = typeof bad === 'string' ? bad : JSON.stringify(bad);
      expect(() => parseAtlas(text)).toThrow(AtlasFileError);
      expect(() => parseAtlas(text)).toThrow(message);
    });
  }
});
