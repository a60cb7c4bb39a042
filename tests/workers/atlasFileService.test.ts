import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { parseAtlas, serializeAtlas } from '../../src/export/atlasFile';
import { atlasTransferables, createAtlasFileService, openAtlasFile, packLevelMeans, type AtlasFileService } from '../../src/workers/atlasFileService';
import { RpcClient } from '../../src/workers/rpc';
import { nodeWorkerEndpoint } from './nodeEndpoint';

const fixture = (name: string) => readFileSync(new URL(`../fixtures/${name}`, import.meta.url), 'utf8');
/** A version-3 file: the version-2 fixture saved again. */
const v3Text = () => serializeAtlas(parseAtlas(fixture('atlas-v2-image.json')));

describe('opening an atlas file in a worker', () => {
  const client = new RpcClient<AtlasFileService>(() => nodeWorkerEndpoint(new URL('./nodeAtlasFile.worker.ts', import.meta.url)));
  afterAll(() => client.terminate());

  it('parses the file on a worker thread and hands back the same atlas as parsing on this one, versions 2 and 3 alike', async () => {
    for (const text of [v3Text(), fixture('atlas-v2-text.json')]) {
      // Slices of 5 inputs and 7 cells: the 12 images come in 3 messages, the 2 documents in 1, the cells in several.
      const atlas = await openAtlasFile(client, new Blob([text]), { inputs: 5, cells: 7 });
      const here = parseAtlas(text);
      expect(atlas.points.input).toBeInstanceOf(Uint32Array);
      expect(atlas.points.layoutX).toBeInstanceOf(Float32Array);
      expect(atlas.points).toEqual(here.points);
      expect(atlas.inputs).toEqual(here.inputs);
      expect(atlas.levels).toEqual(here.levels);
      expect(atlas).toEqual(here);
    }
  });

  it('refuses a slice once the file is released, and serves slices of inputs and cells until then', async () => {
    const service = createAtlasFileService();
    const context = { signal: new AbortController().signal, progress: () => {} };
    const opened = await service.openAtlasFile(context, new Blob([v3Text()]));
    const whole = parseAtlas(v3Text());
    expect(opened.inputCount).toBe(12);
    expect(opened.levels).toEqual(whole.levels.map((l) => ({ size: l.size, cells: l.cells.length })));
    expect(service.inputSlice(context, 0, 4).names).toEqual(['img0.png', 'img1.png', 'img2.png', 'img3.png']);
    expect(service.inputSlice(context, 4, 12).thumbnails).toHaveLength(8);
    expect(service.cellSlice(context, 1, 2, 5)).toEqual(whole.levels[1].cells.slice(2, 5));
    service.release(context);
    expect(() => service.inputSlice(context, 0, 4)).toThrow(/No atlas file is open here/);
  });

  it("rejects a bad file with the file's own message", async () => {
    const json = JSON.parse(v3Text());
    json.points.layoutX = 'AAAA';
    await expect(client.call('openAtlasFile', [new Blob([JSON.stringify(json)])])).rejects.toMatchObject({
      name: 'AtlasFileError',
      message: expect.stringMatching(/points.layoutX holds 3 bytes, expected 192 \(48 values\)/),
    });
  });

  it('packs the means of a level into one buffer and lists every buffer to move once', () => {
    const atlas = parseAtlas(v3Text());
    const levels = packLevelMeans(atlas.levels);
    levels.forEach((level, li) => level.cells.forEach((c, ci) => expect(c.mean).toEqual(atlas.levels[li].cells[ci].mean)));
    for (const level of levels) expect(new Set(level.cells.map((c) => c.mean.buffer)).size).toBe(1);
    const buffers = atlasTransferables({ points: atlas.points, levels });
    expect(buffers).toHaveLength(4 + levels.length);
    expect(new Set(buffers).size).toBe(buffers.length);
  });
});
