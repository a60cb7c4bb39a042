/** Where each cell's icon sits in one square-ish texture. */
export interface IconAtlasLayout {
  iconSize: number;
  columns: number;
  rows: number;
  width: number;
  height: number;
}

/**
 * Packs `count` square icons into a grid no wider or taller than `maxTextureSize`, shrinking the
 * icons below `preferredSize` only when they would not fit.
 */
export function iconAtlasLayout(count: number, preferredSize: number, maxTextureSize = 4096): IconAtlasLayout {
  const columns = Math.max(1, Math.ceil(Math.sqrt(count)));
  const rows = Math.max(1, Math.ceil(count / columns));
  const iconSize = Math.max(1, Math.min(preferredSize, Math.floor(maxTextureSize / columns)));
  return { iconSize, columns, rows, width: columns * iconSize, height: rows * iconSize };
}

/** The pixel square of icon `index` in the texture. */
export function iconSlot(index: number, layout: IconAtlasLayout): { x: number; y: number; width: number; height: number } {
  const s = layout.iconSize;
  return { x: (index % layout.columns) * s, y: Math.floor(index / layout.columns) * s, width: s, height: s };
}
