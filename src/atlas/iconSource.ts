import type { AtlasCell } from '../compute/types';
import type { Atlas } from '../export/atlasFile';
import { patchRegion, toPixels } from './patch';

export type Drawing2D = CanvasRenderingContext2D | OffscreenCanvasRenderingContext2D;

/**
 * Draws one cell's icon into a square. The atlas view, the icon texture and the PNG export all
 * go through this, so an icon kind (dataset exemplar, feature visualisation) can be swapped per cell.
 */
export interface IconSource {
  draw(ctx: Drawing2D, cell: AtlasCell, gridSize: number, x: number, y: number, size: number): void;
}

/**
 * Patch width, in layer positions, cropped around the exemplar's position. Five is close to what a
 * mid-level conv layer sees (conv3 of the built-in model: 18 px of 28), and reads far better than three.
 */
export const PATCH_SPAN = 5;

/** Each cell's exemplar (its member nearest the mean), cropped around the position it was recorded at. */
export function exemplarIcons(atlas: Atlas, thumbnails: readonly (ImageBitmap | null)[]): IconSource {
  const { gridWidth, gridHeight } = atlas.layer;
  return {
    draw(ctx, cell, _gridSize, x, y, size) {
      const image = thumbnails[cell.exemplar.input];
      if (!image) {
        ctx.fillStyle = '#333';
        ctx.fillRect(x, y, size, size);
        return;
      }
      const r = toPixels(
        patchRegion(cell.exemplar.x, cell.exemplar.y, gridWidth, gridHeight, PATCH_SPAN),
        image.width,
        image.height,
      );
      ctx.imageSmoothingEnabled = true;
      ctx.imageSmoothingQuality = 'high';
      ctx.drawImage(image, r.x, r.y, r.width, r.height, x, y, size, size);
    },
  };
}
