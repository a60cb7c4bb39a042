import { describe, expect, it } from 'vitest';
import { iconAtlasLayout, iconSlot } from '../../src/atlas/iconAtlasLayout';

describe('iconAtlasLayout', () => {
  it('packs icons into a near-square grid at the preferred size', () => {
    expect(iconAtlasLayout(400, 64)).toEqual({ iconSize: 64, columns: 20, rows: 20, width: 1280, height: 1280 });
    expect(iconAtlasLayout(10, 64)).toMatchObject({ columns: 4, rows: 3 });
  });

  it('shrinks icons to stay within the maximum texture size', () => {
    const layout = iconAtlasLayout(25_600, 64, 4096);
    expect(layout.width).toBeLessThanOrEqual(4096);
    expect(layout.height).toBeLessThanOrEqual(4096);
    expect(layout.iconSize).toBe(25);
  });

  it('gives every icon its own slot inside the texture', () => {
    const layout = iconAtlasLayout(37, 16);
    const seen = new Set<string>();
    for (let k = 0; k < 37; k++) {
      const s = iconSlot(k, layout);
      expect(s.x + s.width).toBeLessThanOrEqual(layout.width);
      expect(s.y + s.height).toBeLessThanOrEqual(layout.height);
      seen.add(`${s.x},${s.y}`);
    }
    expect(seen.size).toBe(37);
  });

  it('handles an empty level', () => {
    expect(iconAtlasLayout(0, 64)).toMatchObject({ columns: 1, rows: 1 });
  });
});
