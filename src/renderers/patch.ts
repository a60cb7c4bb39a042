/** A rectangle as fractions of an image's width and height. */
export interface FractionRect {
  x: number;
  y: number;
  width: number;
  height: number;
}

const WHOLE: FractionRect = { x: 0, y: 0, width: 1, height: 1 };

/** A flat position on a layer's [H, W] grid as (x, y) and the grid's size; pooled (-1) or non-2-D positions are (-1, -1). */
export function gridPosition(position: number, positionShape: readonly number[]): { x: number; y: number; gridWidth: number; gridHeight: number } {
  const [gridHeight, gridWidth] = positionShape.length === 2 ? positionShape : [1, 1];
  if (position < 0 || positionShape.length !== 2) return { x: -1, y: -1, gridWidth, gridHeight };
  return { x: position % gridWidth, y: Math.floor(position / gridWidth), gridWidth, gridHeight };
}

/**
 * The input region a layer position looks at: [x/gridWidth, (x+1)/gridWidth) across, the same down.
 * Pooled rows (x or y < 0) look at the whole input.
 */
export function positionRegion(x: number, y: number, gridWidth: number, gridHeight: number): FractionRect {
  if (x < 0 || y < 0) return WHOLE;
  return { x: x / gridWidth, y: y / gridHeight, width: 1 / gridWidth, height: 1 / gridHeight };
}

/**
 * The patch cropped for a cell icon: `span` positions wide, centred on (x, y) and shifted (not
 * shrunk) to stay inside the input. Pooled rows use the whole input.
 */
export function patchRegion(x: number, y: number, gridWidth: number, gridHeight: number, span = 3): FractionRect {
  if (x < 0 || y < 0) return WHOLE;
  const axis = (p: number, n: number) => {
    const w = Math.min(span, n);
    const start = Math.min(Math.max(p - (w - 1) / 2, 0), n - w);
    return [start / n, w / n] as const;
  };
  const [fx, fw] = axis(x, gridWidth);
  const [fy, fh] = axis(y, gridHeight);
  return { x: fx, y: fy, width: fw, height: fh };
}

/** A fraction rectangle in whole pixels of a width x height image, at least one pixel each way. */
export function toPixels(r: FractionRect, width: number, height: number): FractionRect {
  const x0 = Math.floor(r.x * width);
  const y0 = Math.floor(r.y * height);
  const x1 = Math.max(x0 + 1, Math.ceil((r.x + r.width) * width - 1e-9));
  const y1 = Math.max(y0 + 1, Math.ceil((r.y + r.height) * height - 1e-9));
  return { x: x0, y: y0, width: Math.min(x1, width) - x0, height: Math.min(y1, height) - y0 };
}
