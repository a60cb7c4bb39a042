import type { AtlasCell } from '../compute/types';

export type Drawing2D = CanvasRenderingContext2D | OffscreenCanvasRenderingContext2D;

/**
 * Draws one cell's icon into a square. The atlas view, the icon texture and the PNG export all
 * go through this, so an icon kind (dataset exemplar, feature visualisation) can be swapped per cell.
 */
export interface IconSource {
  draw(ctx: Drawing2D, cell: AtlasCell, gridSize: number, x: number, y: number, size: number): void;
}

