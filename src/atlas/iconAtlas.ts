import type { GridLevel } from '../compute/types';
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

/** One grid level's icons packed into one canvas, keyed by `${i}:${j}`, ready for an IconLayer. */
export interface IconAtlas {
  canvas: HTMLCanvasElement;
  mapping: Record<string, IconMappingEntry>;
}

export const iconKey = (cell: { i: number; j: number }): string => `${cell.i}:${cell.j}`;

/** Draws every cell's icon of a level into one texture canvas, pausing for the page every few milliseconds. */
export async function buildIconAtlas(level: GridLevel, source: IconSource, preferredSize = 64, signal?: AbortSignal): Promise<IconAtlas> {
  const layout = iconAtlasLayout(level.cells.length, preferredSize);
  const canvas = document.createElement('canvas');
  canvas.width = layout.width;
  canvas.height = layout.height;
  // A CPU-backed canvas: thousands of small drawImage calls, then one upload to the layer's texture.
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  if (!ctx) throw new Error('This browser cannot draw the atlas icons (no 2-D canvas).');
  const mapping: Record<string, IconMappingEntry> = {};
  // A one-pixel gutter keeps linear filtering and mipmaps from bleeding neighbours into an icon.
  const gutter = layout.iconSize > 8 ? 1 : 0;
  const pacer = createPacer(signal, PAGE_SLICE_MS);
  for (let k = 0; k < level.cells.length; k++) {
    if (pacer.due()) await pacer.pause();
    const cell = level.cells[k];
    const slot = iconSlot(k, layout);
    const size = slot.width - 2 * gutter;
    source.draw(ctx, cell, level.size, slot.x + gutter, slot.y + gutter, size);
    mapping[iconKey(cell)] = { x: slot.x + gutter, y: slot.y + gutter, width: size, height: size, mask: false };
  }
  return { canvas, mapping };
}
