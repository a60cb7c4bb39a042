/** Where each cell's icon sits: square icons in rows, split over tiles (textures) of at most `maxTileSize` a side. */
export interface IconAtlasLayout {
  iconSize: number;
  /** Icons per row of a tile. */
  columns: number;
  /** Icons a tile holds; the last tile holds the rest. */
  perTile: number;
  /** Each tile's size in pixels. */
  tiles: { width: number; height: number }[];
}

/**
 * Packs `count` square icons into tiles no wider or taller than `maxTileSize`. The icons shrink below
 * `preferredSize` only where a near-square grid of them all would be wider than `maxTotalSize`, so a level's
 * total texture area stays what one texture of that size held. A page allocates each tile in its own step:
 * a browser allocates a canvas's pixels in one go at its first draw: 2-4 ms for 1024 pixels, up to 260 ms for 4096.
 */
export function iconAtlasLayout(count: number, preferredSize: number, maxTileSize = 1024, maxTotalSize = 4096): IconAtlasLayout {
  const square = Math.max(1, Math.ceil(Math.sqrt(count)));
  const iconSize = Math.max(1, Math.min(preferredSize, Math.floor(maxTotalSize / square), maxTileSize));
  const fit = Math.floor(maxTileSize / iconSize);
  const columns = Math.min(square, fit);
  const perTile = columns * fit;
  const tiles: IconAtlasLayout['tiles'] = [];
  for (let start = 0; start < Math.max(1, count); start += perTile) {
    const rows = Math.max(1, Math.ceil(Math.min(perTile, count - start) / columns));
    tiles.push({ width: columns * iconSize, height: rows * iconSize });
  }
  return { iconSize, columns, perTile, tiles };
}

/** The tile of icon `index` and its pixel square there. */
export function iconSlot(index: number, layout: IconAtlasLayout): { tile: number; x: number; y: number; width: number; height: number } {
  const s = layout.iconSize;
  const k = index % layout.perTile;
  return { tile: Math.floor(index / layout.perTile), x: (k % layout.columns) * s, y: Math.floor(k / layout.columns) * s, width: s, height: s };
}
