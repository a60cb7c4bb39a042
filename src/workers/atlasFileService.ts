import type { Atlas } from '../compute/atlas';
import type { GridLevel } from '../compute/types';
import { parseAtlas } from '../export/atlasFile';
import { withTransfer, type CallContext } from './rpc';

/**
 * Each level's cell means as views into one buffer per level: the page then receives a handful of buffers, moved,
 * instead of one small buffer per cell (tens of thousands for a million-point atlas) copied one by one.
 */
export function packLevelMeans(levels: GridLevel[]): GridLevel[] {
  return levels.map((level) => {
    const total = level.cells.reduce((n, c) => n + c.mean.length, 0);
    const packed = new Float32Array(total);
    let at = 0;
    const cells = level.cells.map((c) => {
      packed.set(c.mean, at);
      const mean = packed.subarray(at, at + c.mean.length);
      at += c.mean.length;
      return { ...c, mean };
    });
    return { ...level, cells };
  });
}

/** The buffers an opened atlas can hand over instead of copying: its point columns and its levels' packed means. */
export function atlasTransferables(atlas: Atlas): ArrayBuffer[] {
  const buffers = new Set<ArrayBuffer>();
  const { input, position, layoutX, layoutY } = atlas.points;
  for (const column of [input, position, layoutX, layoutY]) buffers.add(column.buffer as ArrayBuffer);
  for (const level of atlas.levels) if (level.cells.length) buffers.add(level.cells[0].mean.buffer as ArrayBuffer);
  return [...buffers];
}

/**
 * Opening an atlas file off the page's main thread: the file's text is read, parsed, validated and its binary
 * columns decoded here (a million-point file holds the page for seconds otherwise); the typed columns move to the
 * page by transfer. Served by atlasFile.worker.ts, and called directly in the Node tests.
 */
export function createAtlasFileService() {
  return {
    /** The atlas in the file, or an AtlasFileError naming what is wrong with it. */
    async openAtlasFile(_: CallContext, file: Blob): Promise<Atlas> {
      const parsed = parseAtlas(await file.text());
      const atlas = { ...parsed, levels: packLevelMeans(parsed.levels) } as Atlas;
      return withTransfer(atlas, atlasTransferables(atlas));
    },
  };
}

export type AtlasFileService = ReturnType<typeof createAtlasFileService>;
