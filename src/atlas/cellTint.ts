import type { Atlas } from '../compute/atlas';
import { scoreAlong, type Concept } from '../compute/directions/concept';
import { cellOf } from '../compute/grid';
import type { GridLevel } from '../compute/types';
import type { ColourBy } from '../store';

/** A value per cell of one level (keyed "i:j"), with the centre and half-range of its diverging colour scale. */
export interface CellTints {
  values: Map<string, number>;
  centre: number;
  scale: number;
  /** What the values are, for the legend. */
  label: string;
}

/**
 * The cells' values for what the atlas is coloured by. A concept: each cell's mean score along it (its mean
 * vector's projection: the score is linear), centred on the mean over points. A class: the sum over the cell's
 * points of activation x gradient, centred on 0; where points were sampled (text), the sampled mean times the count.
 */
export function cellTints(atlas: Atlas, level: GridLevel, colourBy: ColourBy, concepts: readonly Concept[]): CellTints | null {
  const values = new Map<string, number>();
  if (colourBy.kind === 'concept') {
    const concept = concepts.find((c) => c.id === colourBy.id);
    if (!concept) return null;
    let weighted = 0;
    let total = 0;
    for (const c of level.cells) {
      const v = scoreAlong(c.mean, concept.direction);
      values.set(`${c.i}:${c.j}`, v);
      weighted += v * c.count;
      total += c.count;
    }
    return withScale(values, total ? weighted / total : 0, `score along “${concept.name}”`);
  }
  if (colourBy.kind === 'class') {
    const g = level.size;
    const sums = new Map<string, { sum: number; sampled: number; count: number }>();
    const { layoutX, layoutY } = atlas.points;
    for (let p = 0; p < layoutX.length; p++) {
      const key = `${cellOf(layoutX[p], g)}:${cellOf(layoutY[p], g)}`;
      const entry = sums.get(key) ?? { sum: 0, sampled: 0, count: 0 };
      entry.count++;
      const v = colourBy.values[p];
      if (Number.isFinite(v)) {
        entry.sum += v;
        entry.sampled++;
      }
      sums.set(key, entry);
    }
    // Only the level's cells are drawn (cells under minCellCount are not): only they set the scale.
    for (const c of level.cells) {
      const e = sums.get(`${c.i}:${c.j}`);
      if (e && e.sampled > 0) values.set(`${c.i}:${c.j}`, (e.sum / e.sampled) * e.count);
    }
    return withScale(values, 0, `attribution to ${colourBy.target}`);
  }
  return null;
}

function withScale(values: Map<string, number>, centre: number, label: string): CellTints {
  let scale = 0;
  for (const v of values.values()) scale = Math.max(scale, Math.abs(v - centre));
  return { values, centre, scale: scale || 1, label };
}

const WARM: [number, number, number] = [236, 96, 48];
const COOL: [number, number, number] = [48, 128, 236];

/** Diverging colour: warm above the centre, cool below, more opaque the further out. */
export function tintColour(value: number, centre: number, scale: number): [number, number, number, number] {
  const t = Math.max(-1, Math.min(1, (value - centre) / scale));
  const [r, g, b] = t >= 0 ? WARM : COOL;
  return [r, g, b, Math.round(16 + 134 * Math.abs(t))];
}
