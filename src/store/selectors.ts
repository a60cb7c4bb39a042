import type { AtlasCell, GridLevel } from '../compute/types';
import type { AtlasStore } from './index';

/** The grid level on screen, or null before an atlas is open. */
export function selectLevel(s: AtlasStore): GridLevel | null {
  return s.atlas?.levels.find((l) => l.size === s.gridSize) ?? null;
}

/** The cell the inspector shows, looked up in its own level (which may differ from the one on screen). */
export function selectSelectedCell(s: AtlasStore): AtlasCell | null {
  const ref = s.selected;
  if (!ref || !s.atlas) return null;
  const level = s.atlas.levels.find((l) => l.size === ref.gridSize);
  return level?.cells.find((c) => c.i === ref.i && c.j === ref.j) ?? null;
}
