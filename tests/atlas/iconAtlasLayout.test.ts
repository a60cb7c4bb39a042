import { describe, expect, it } from 'vitest';
import { iconAtlasLayout, iconSlot } from '../../src/atlas/iconAtlasLayout';

/** Checks the tiling of `count` icons: one slot each, inside its tile, no two overlapping, no tile over `maxTile`. */
function expectValidTiling(count: number, preferred: number, maxTile: number): ReturnType<typeof iconAtlasLayout> {
  const layout = iconAtlasLayout(count, preferred, maxTile);
  for (const tile of layout.tiles) {
    expect(tile.width).toBeLessThanOrEqual(maxTile);
    expect(tile.height).toBeLessThanOrEqual(maxTile);
  }
  const seen = new Set<string>();
  const outside: number[] = [];
  for (let k = 0; k < count; k++) {
    const s = iconSlot(k, layout);
    const tile = layout.tiles[s.tile];
    if (!tile || s.x < 0 || s.y < 0 || s.x + s.width > tile.width || s.y + s.height > tile.height) outside.push(k);
    seen.add(`${s.tile}:${s.x},${s.y}`);
  }
  expect(outside).toEqual([]);
  expect(seen.size).toBe(count);
  // No empty tile: the last one holds at least one icon.
  if (count > 0) expect(iconSlot(count - 1, layout).tile).toBe(layout.tiles.length - 1);
  return layout;
}

describe('iconAtlasLayout', () => {
  it('packs a small level into one near-square tile at the preferred size', () => {
    expect(iconAtlasLayout(100, 64)).toEqual({ iconSize: 64, columns: 10, perTile: 160, tiles: [{ width: 640, height: 640 }] });
    expect(iconAtlasLayout(10, 64)).toMatchObject({ columns: 4, tiles: [{ width: 256, height: 192 }] });
  });

  it('splits a level over tiles of at most the maximum size, keeping the icon size', () => {
    const layout = expectValidTiling(400, 64, 1024);
    expect(layout).toEqual({ iconSize: 64, columns: 16, perTile: 256, tiles: [{ width: 1024, height: 1024 }, { width: 1024, height: 576 }] });
  });

  it('shrinks icons only as far as one 4096-pixel texture of them all needs', () => {
    // A full 160 x 160 level: the icons are as large as before tiling, over 16 tiles of 1,000 pixels.
    const layout = expectValidTiling(25_600, 64, 1024);
    expect(layout.iconSize).toBe(25);
    expect(layout.tiles).toHaveLength(16);
    // 80 x 80: 51-pixel icons, 400 to a tile.
    expect(expectValidTiling(6400, 64, 1024)).toMatchObject({ iconSize: 51, perTile: 400 });
  });

  it('gives every icon exactly one slot inside its tile, whatever the count and tile size', () => {
    for (const [count, preferred, maxTile] of [[37, 16, 64], [1, 64, 1024], [257, 64, 1024], [1599, 64, 512], [3001, 64, 256], [25_000, 64, 1024]]) {
      expectValidTiling(count, preferred, maxTile);
    }
  });

  it('handles an empty level with one empty tile', () => {
    expect(iconAtlasLayout(0, 64).tiles).toHaveLength(1);
  });
});
