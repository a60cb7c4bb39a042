import type { AtlasCell, GridLevel } from '../compute/types';
import { createPacer, PAGE_SLICE_MS } from '../lib/yieldToPage';
import { iconAtlasLayout, iconSlot } from './iconAtlasLayout';
import type { IconSource } from '../renderers/iconSource';

export interface IconMappingEntry {
  x: number;
  y: number;
  width: number;
  height: number;
  mask: false;
}

/** Some of a level's cells and their icons in one canvas, keyed by `${i}:${j}`: one IconLayer's texture. */
export interface IconTile {
  canvas: HTMLCanvasElement;
  cells: AtlasCell[];
  mapping: Record<string, IconMappingEntry>;
}

/** One grid level's icons, over tiles small enough that each canvas is allocated in one short step. */
export type IconAtlas = IconTile[];

export const iconKey = (cell: { i: number; j: number }): string => `${cell.i}:${cell.j}`;

/** Draws every cell's icon of a level into its tile's canvas, pausing for the page every few milliseconds. */
export async function buildIconAtlas(level: GridLevel, source: IconSource, preferredSize = 64, signal?: AbortSignal): Promise<IconAtlas> {
  const layout = iconAtlasLayout(level.cells.length, preferredSize);
  // A one-pixel gutter keeps linear filtering and mipmaps from bleeding neighbours into an icon.
  const gutter = layout.iconSize > 8 ? 1 : 0;
  const pacer = createPacer(signal, PAGE_SLICE_MS);
  const tiles: IconAtlas = [];
  for (let t = 0; t < layout.tiles.length; t++) {
    // A fresh slice per tile: the first draw into a canvas allocates all its pixels, which no pacer can split.
    if (t > 0) await pacer.pause();
    const canvas = document.createElement('canvas');
    canvas.width = layout.tiles[t].width;
    canvas.height = layout.tiles[t].height;
    // A CPU-backed canvas: hundreds of small drawImage calls, then one upload to the layer's texture.
    const ctx = canvas.getContext('2d', { willReadFrequently: true });
    if (!ctx) throw new Error('This browser cannot draw the atlas icons (no 2-D canvas).');
    const tile: IconTile = { canvas, cells: level.cells.slice(t * layout.perTile, (t + 1) * layout.perTile), mapping: {} };
    tiles.push(tile);
    for (let k = t * layout.perTile; k < t * layout.perTile + tile.cells.length; k++) {
      if (pacer.due()) await pacer.pause();
      const cell = level.cells[k];
      const slot = iconSlot(k, layout);
      const size = slot.width - 2 * gutter;
      source.draw(ctx, cell, level.size, slot.x + gutter, slot.y + gutter, size);
      tile.mapping[iconKey(cell)] = { x: slot.x + gutter, y: slot.y + gutter, width: size, height: size, mask: false };
    }
  }
  return tiles;
}
