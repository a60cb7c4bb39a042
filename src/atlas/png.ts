import { countOpacity, type PlacedLabel } from './cellStyle';
import type { IconSource } from '../renderers/iconSource';
import type { GridLevel } from '../compute/types';
import { createPacer, PAGE_SLICE_MS } from '../lib/yieldToPage';

export const PNG_SIZES = [1024, 2048, 4096] as const;

export interface AtlasPngOptions {
  level: GridLevel;
  /** Width and height of the image in pixels. */
  size: number;
  icons: IconSource;
  labels: readonly PlacedLabel[];
}

/** The pixel square of cell (i, j) in a `size`-px image of a g x g grid; neighbours share edges, no gaps. */
export function cellPixelRect(i: number, j: number, gridSize: number, size: number) {
  const x0 = Math.round((i * size) / gridSize);
  const y0 = Math.round((j * size) / gridSize);
  const x1 = Math.round(((i + 1) * size) / gridSize);
  const y1 = Math.round(((j + 1) * size) / gridSize);
  return { x: x0, y: y0, width: x1 - x0, height: y1 - y0 };
}

/** The font size of cell labels in an exported image: a fifth of a cell, but never unreadably small. */
export function labelFontPx(gridSize: number, size: number): number {
  return Math.max(10, Math.round((size / gridSize) * 0.2));
}

/**
 * Renders a whole grid level offscreen (not a grab of the viewport): every cell's icon at its (i, j),
 * faded by count like the view, with the view's class labels, and encodes it as PNG.
 */
export async function renderAtlasPng({ level, size, icons, labels }: AtlasPngOptions, signal?: AbortSignal): Promise<Blob> {
  const canvas = new OffscreenCanvas(size, size);
  const ctx = canvas.getContext('2d');
  if (!ctx) throw new Error('This browser cannot draw an image offscreen (no 2-D OffscreenCanvas).');
  ctx.fillStyle = '#0d0f16';
  ctx.fillRect(0, 0, size, size);
  const maxCount = level.cells.reduce((m, c) => Math.max(m, c.count), 1);
  const gap = size / level.size > 12 ? 1 : 0;
  const pacer = createPacer(signal, PAGE_SLICE_MS);
  for (let k = 0; k < level.cells.length; k++) {
    if (pacer.due()) await pacer.pause();
    const cell = level.cells[k];
    const r = cellPixelRect(cell.i, cell.j, level.size, size);
    ctx.globalAlpha = countOpacity(cell.count, maxCount);
    icons.draw(ctx, cell, level.size, r.x + gap, r.y + gap, Math.min(r.width, r.height) - 2 * gap);
  }
  ctx.globalAlpha = 1;
  const fontPx = labelFontPx(level.size, size);
  ctx.font = `600 ${fontPx}px system-ui, sans-serif`;
  ctx.textAlign = 'center';
  ctx.textBaseline = 'bottom';
  for (const label of labels) {
    const r = cellPixelRect(label.i, label.j, level.size, size);
    const cx = r.x + r.width / 2;
    const bottom = r.y + r.height * 0.92;
    const w = ctx.measureText(label.text).width + fontPx * 0.5;
    ctx.fillStyle = 'rgba(10, 12, 20, 0.75)';
    ctx.fillRect(cx - w / 2, bottom - fontPx * 1.2, w, fontPx * 1.25);
    ctx.fillStyle = '#fff';
    ctx.fillText(label.text, cx, bottom);
  }
  signal?.throwIfAborted();
  return canvas.convertToBlob({ type: 'image/png' });
}
