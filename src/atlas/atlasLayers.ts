import type { Layer } from '@deck.gl/core';
import { IconLayer, PathLayer, PolygonLayer, ScatterplotLayer, TextLayer } from '@deck.gl/layers';
import type { AtlasCell, GridLevel } from '../compute/types';
import type { Atlas } from '../compute/atlas';
import { tintColour, type CellTints } from './cellTint';
import { countOpacity, labelColor, placeLabels, type PlacedLabel } from './cellStyle';
import { cellCenter, cellWorldSize, WORLD_SIZE } from './geometry';
import { iconKey, type IconAtlas } from './iconAtlas';

/** Opacity of a cell without selected points while a selection exists: greyed out, still readable. */
const UNSELECTED_OPACITY = 0.18;

/**
 * The icons of one grid level. The layer turns the canvas into a texture it owns and deletes. With a
 * selection (points per cell), cells holding none of its points are greyed out.
 */
export function cellIconLayer(id: string, level: GridLevel, icons: IconAtlas, selected: Map<string, number> | null = null): Layer {
  const maxCount = level.cells.reduce((m, c) => Math.max(m, c.count), 1);
  const dim = (c: AtlasCell) => (selected && !selected.has(`${c.i}:${c.j}`) ? UNSELECTED_OPACITY : 1);
  const size = cellWorldSize(level.size) * 0.94;
  return new IconLayer<AtlasCell>({
    id: `${id}-icons-${level.size}`,
    data: level.cells,
    // deck's 'image' prop type also takes a canvas; the texture it makes is this layer's to delete.
    iconAtlas: icons.canvas as unknown as string,
    iconMapping: icons.mapping,
    getIcon: iconKey,
    getPosition: (c) => cellCenter(c.i, c.j, level.size),
    getSize: size,
    sizeUnits: 'common',
    getColor: (c) => [255, 255, 255, Math.round(255 * countOpacity(c.count, maxCount) * dim(c))],
    // deck compares update triggers shallowly, which sees no difference between two Maps: a string does.
    updateTriggers: { getColor: selected ? [...selected.keys()].join(' ') : '' },
    alphaCutoff: 0,
    // Upright on screen: the view flips y (row 0 at the top), which would turn world-aligned icons upside down.
    billboard: true,
  });
}

/** Cells tinted by a value (a concept's score, a class's attribution) over their icons; cells without a value stay clear. */
export function cellTintLayer(id: string, level: GridLevel, tints: CellTints, version: number): Layer {
  const w = cellWorldSize(level.size);
  const cells = level.cells.filter((c) => tints.values.has(`${c.i}:${c.j}`));
  return new PolygonLayer<AtlasCell>({
    id: `${id}-tint-${level.size}`,
    data: cells,
    getPolygon: (c) => [[c.i * w, c.j * w], [(c.i + 1) * w, c.j * w], [(c.i + 1) * w, (c.j + 1) * w], [c.i * w, (c.j + 1) * w]],
    getFillColor: (c) => tintColour(tints.values.get(`${c.i}:${c.j}`)!, tints.centre, tints.scale),
    updateTriggers: { getFillColor: version },
    stroked: false,
    filled: true,
  });
}

/** Class names on the cells where one class clearly dominates, thinned so clusters are named once. */
export function cellLabelLayer(id: string, level: GridLevel, labels: PlacedLabel[]): Layer {
  const w = cellWorldSize(level.size);
  return new TextLayer<PlacedLabel>({
    id: `${id}-labels-${level.size}`,
    data: labels,
    getText: (l) => l.text,
    getPosition: (l) => [(l.i + 0.5) * w, (l.j + 0.92) * w],
    getSize: 12,
    sizeUnits: 'pixels',
    getColor: [255, 255, 255, 255],
    getTextAnchor: 'middle',
    getAlignmentBaseline: 'bottom',
    fontFamily: 'system-ui, sans-serif',
    fontWeight: 600,
    characterSet: 'auto',
    background: true,
    getBackgroundColor: [10, 12, 20, 190],
    backgroundPadding: [3, 1, 3, 1],
  });
}

/** The projected points as binary columns (world positions, label colours), built once per atlas. */
export function pointColumns(atlas: Atlas): { length: number; positions: Float32Array; colors: Uint8Array } {
  const { layoutX, layoutY, input } = atlas.points;
  const n = layoutX.length;
  const positions = new Float32Array(2 * n);
  const colors = new Uint8Array(3 * n);
  for (let r = 0; r < n; r++) {
    positions[2 * r] = layoutX[r] * WORLD_SIZE;
    positions[2 * r + 1] = layoutY[r] * WORLD_SIZE;
    colors.set(labelColor(atlas.inputs.label[input[r]]), 3 * r);
  }
  return { length: n, positions, colors };
}

/** The projected points over the icons, coloured by label. */
export function pointLayer(id: string, points: ReturnType<typeof pointColumns>): Layer {
  return new ScatterplotLayer({
    id: `${id}-points`,
    data: {
      length: points.length,
      attributes: { getPosition: { value: points.positions, size: 2 }, getFillColor: { value: points.colors, size: 3 } },
    },
    getRadius: 1.6,
    radiusUnits: 'pixels',
    opacity: 0.8,
  });
}

/** The selected points, drawn over the icons. */
export function selectionLayer(id: string, atlas: Atlas, selection: readonly number[]): Layer {
  const positions = new Float32Array(2 * selection.length);
  selection.forEach((p, k) => {
    positions[2 * k] = atlas.points.layoutX[p] * WORLD_SIZE;
    positions[2 * k + 1] = atlas.points.layoutY[p] * WORLD_SIZE;
  });
  return new ScatterplotLayer({
    id: `${id}-selection`,
    data: { length: selection.length, attributes: { getPosition: { value: positions, size: 2 } } },
    getFillColor: [255, 170, 40, 230],
    getRadius: 2.2,
    radiusUnits: 'pixels',
  });
}

export interface Outline {
  i: number;
  j: number;
  gridSize: number;
  color: [number, number, number, number];
}

/** Square outlines for the hovered and the selected cell. */
export function outlineLayer(id: string, outlines: Outline[]): Layer {
  return new PathLayer<Outline>({
    id: `${id}-outlines`,
    data: outlines,
    getPath: (o) => {
      const w = cellWorldSize(o.gridSize);
      const [x0, y0, x1, y1] = [o.i * w, o.j * w, (o.i + 1) * w, (o.j + 1) * w];
      return [[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]];
    },
    getColor: (o) => o.color,
    getWidth: 2,
    widthUnits: 'pixels',
    jointRounded: false,
  });
}

/** Labels to draw per level, computed once per atlas. */
export function labelsByLevel(atlas: Atlas): Map<number, PlacedLabel[]> {
  return new Map(atlas.levels.map((l) => [l.size, placeLabels(l.cells, atlas.labelNames)]));
}
