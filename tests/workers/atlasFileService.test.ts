import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { parseAtlas, serializeAtlas } from '../../src/export/atlasFile';
import { atlasTransferables, createAtlasFileService, packLevelMeans, type AtlasFileService } from '../../src/workers/atlasFileService';
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
      const atlas = await client.call('openAtlasFile', [new Blob([text])]);
      const here = parseAtlas(text);
      expect(atlas.points.input).toBeInstanceOf(Uint32Array);
      expect(atlas.points.layoutX).toBeInstanceOf(Float32Array);
      expect(atlas.points).toEqual(here.points);
      expect(atlas.inputs).toEqual(here.inputs);
      expect(atlas.levels).toEqual(here.levels);
      // Each level's means arrive as views of one buffer.
      for (const level of atlas.levels) expect(new Set(level.cells.map((c) => c.mean.buffer)).size).toBe(1);
    }
  });

  it("rejects a bad file with the file's own message", async () => {
    const json = JSON.parse(v3Text());
    json.points.layoutX = 'AAAA';
    await expect(client.call('openAtlasFile', [new Blob([JSON.stringify(json)])])).rejects.toMatchObject({
      name: 'AtlasFileError',
      message: expect.stringMatching(/points.layoutX holds 3 bytes, expected 192 \(48 values\)/),
    });
  });

  it('packs the means of a level into one buffer and lists every buffer to move once', async () => {
    const atlas = parseAtlas(v3Text());
    const levels = packLevelMeans(atlas.levels);
    levels.forEach((level, li) => level.cells.forEach((c, ci) => expect(c.mean).toEqual(atlas.levels[li].cells[ci].mean)));
    const opened = await createAtlasFileService().openAtlasFile({ signal: new AbortController().signal, progress: () => {} }, new Blob([v3Text()]));
    const buffers = atlasTransferables(opened);
    expect(buffers).toHaveLength(4 + opened.levels.length);
    expect(new Set(buffers).size).toBe(buffers.length);
  });
});
