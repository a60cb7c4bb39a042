import type { Atlas } from '../compute/atlas';
import type { AtlasCell, GridLevel } from '../compute/types';
import { parseAtlas } from '../export/atlasFile';
import { withTransfer, type Args, type CallContext, type Result } from './rpc';

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
export function atlasTransferables(atlas: { points: Atlas['points'] | null; levels: GridLevel[] }): ArrayBuffer[] {
  const buffers = new Set<ArrayBuffer>();
  if (atlas.points) {
    const { input, position, layoutX, layoutY } = atlas.points;
    for (const column of [input, position, layoutX, layoutY]) buffers.add(column.buffer as ArrayBuffer);
  }
  for (const level of atlas.levels) if (level.cells.length) buffers.add(level.cells[0].mean.buffer as ArrayBuffer);
  return [...buffers];
}

/** Inputs per message when the page fetches an opened file's per-input columns: each message costs the page's thread tens of milliseconds to read. */
export const INPUT_SLICE = 50_000;
/** Cells per message, for the same reason (a cell is a dozen small objects to read: its labels, top points, exemplar). */
export const CELL_SLICE = 2000;

/** An atlas's per-input columns (names, labels, each modality's own such as thumbnails or tokens), in one object. */
type InputArrays = Record<string, unknown[]>;

/** An opened file's atlas less its per-input columns and its cells, which follow in slices; its point columns move with it. */
export interface OpenedAtlasFile {
  atlas: Omit<Atlas, 'inputs' | 'levels'>;
  levels: { size: number; cells: number }[];
  inputCount: number;
}

/**
 * Opening an atlas file off the page's main thread: the file's text is read, parsed, validated and its binary
 * columns decoded here; the point columns move to the page by transfer, and the per-input columns (a million names)
 * and the cells follow in slices, so that no single message holds the page's thread for long (Chromium reads a
 * message in one task). Served by atlasFile.worker.ts, and called directly in the Node tests.
 */
export function createAtlasFileService() {
  /** The atlas of the file opened last, until the page has read its slices. */
  let held: Atlas | null = null;
  const current = (): Atlas => {
    if (!held) throw new Error('No atlas file is open here: open the file again.');
    return held;
  };
  return {
    /** The atlas in the file less its inputs and cells, or an AtlasFileError naming what is wrong with the file. */
    async openAtlasFile(_: CallContext, file: Blob): Promise<OpenedAtlasFile> {
      held = null;
      const atlas = parseAtlas(await file.text());
      held = atlas;
      const { inputs: __, levels, ...rest } = atlas;
      const opened = { atlas: rest, levels: levels.map((l) => ({ size: l.size, cells: l.cells.length })), inputCount: atlas.inputs.names.length };
      return withTransfer(opened, atlasTransferables({ points: atlas.points, levels: [] }));
    },

    /** Inputs [start, end) of every per-input column of the file opened last. */
    inputSlice(_: CallContext, start: number, end: number): InputArrays {
      const columns = current().inputs as unknown as InputArrays;
      return Object.fromEntries(Object.entries(columns).map(([key, column]) => [key, column.slice(start, end)]));
    },

    /** Cells [start, end) of a grid level of the file opened last, their means packed into one buffer that moves. */
    cellSlice(_: CallContext, level: number, start: number, end: number): AtlasCell[] {
      const [packed] = packLevelMeans([{ size: 0, cells: current().levels[level].cells.slice(start, end) }]);
      return withTransfer(packed.cells, atlasTransferables({ points: null, levels: [packed] }));
    },

    /** Lets the file opened last go, once the page has all of it. */
    release(_: CallContext): void {
      held = null;
    },
  };
}

export type AtlasFileService = ReturnType<typeof createAtlasFileService>;

/** Calls into the atlas-file service, as an RpcClient makes them (the page) or a direct call would (tests). */
export interface AtlasFileCalls {
  call<M extends keyof AtlasFileService & string>(method: M, args: Args<AtlasFileService[M]>): Promise<Result<AtlasFileService[M]>>;
}

/**
 * Opens an atlas file through the service: the atlas and its point columns in one message, then its per-input
 * columns and its cells a slice at a time, each message read in its own task on the page, joined here.
 */
export async function openAtlasFile(service: AtlasFileCalls, file: Blob, slices = { inputs: INPUT_SLICE, cells: CELL_SLICE }): Promise<Atlas> {
  try {
    const { atlas, levels: shape, inputCount } = await service.call('openAtlasFile', [file]);
    // Each slice is copied into the whole columns as it comes, in its own task: joined at the end, a million rows'
    // slices outlived many tasks (the collector promoted them) and their join in one task ran into a major GC
    // (110 ms tasks, 40 ms of them finishing the collection, in a loaded Chromium trace).
    const inputs: InputArrays = {};
    let start = 0;
    do {
      const end = Math.min(inputCount, start + slices.inputs);
      for (const [key, column] of Object.entries(await service.call('inputSlice', [start, end]))) {
        const whole = (inputs[key] ??= new Array<unknown>(inputCount));
        for (let k = 0; k < column.length; k++) whole[start + k] = column[k];
      }
      start = end;
    } while (start < inputCount);
    const levels: GridLevel[] = [];
    for (const [index, { size, cells }] of shape.entries()) {
      const chunks: AtlasCell[][] = [];
      for (let from = 0; from < cells; from += slices.cells) chunks.push(await service.call('cellSlice', [index, from, Math.min(cells, from + slices.cells)]));
      levels.push({ size, cells: chunks.flat() });
    }
    // The columns and cells are the file's own, validated with the rest of it in the worker.
    return { ...atlas, inputs, levels } as unknown as Atlas;
  } finally {
    await service.call('release', []).catch(() => {});
  }
}
