import type { Layer } from '@deck.gl/core';
import { BitmapLayer, IconLayer, PathLayer, PolygonLayer, ScatterplotLayer, TextLayer } from '@deck.gl/layers';
import type { AtlasCell, GridLevel } from '../compute/types';
import type { Atlas } from '../compute/atlas';
import { tintColour, type CellTints } from './cellTint';
import { countOpacity, labelColor, placeLabels, type PlacedLabel } from './cellStyle';
import { cellCenter, cellWorldSize, WORLD_SIZE } from './geometry';
import { iconKey, type IconAtlas } from './iconAtlas';
import type { DensityImage } from './density';

/** Opacity of a cell without selected points while a selection exists: greyed out, still readable. */
const UNSELECTED_OPACITY = 0.18;

/**
 * The icons of one grid level, one layer per icon tile. Each layer turns its tile's canvas into a texture it owns
 * and deletes. With a selection (points per cell), cells holding none of its points are greyed out.
 */
export function cellIconLayers(id: string, level: GridLevel, icons: IconAtlas, selected: Map<string, number> | null = null): Layer[] {
  const maxCount = level.cells.reduce((m, c) => Math.max(m, c.count), 1);
  const dim = (c: AtlasCell) => (selected && !selected.has(`${c.i}:${c.j}`) ? UNSELECTED_OPACITY : 1);
  const size = cellWorldSize(level.size) * 0.94;
  // deck compares update triggers shallowly, which sees no difference between two Maps: a string does.
  const selectionKey = selected ? [...selected.keys()].join(' ') : '';
  return icons.map(
    (tile, t) =>
      new IconLayer<AtlasCell>({
        id: `${id}-icons-${level.size}-${t}`,
        data: tile.cells,
        // deck's 'image' prop type also takes a canvas; the texture it makes is this layer's to delete.
        iconAtlas: tile.canvas as unknown as string,
        iconMapping: tile.mapping,
        getIcon: iconKey,
        getPosition: (c) => cellCenter(c.i, c.j, level.size),
        getSize: size,
        sizeUnits: 'common',
        getColor: (c) => [255, 255, 255, Math.round(255 * countOpacity(c.count, maxCount) * dim(c))],
        updateTriggers: { getColor: selectionKey },
        alphaCutoff: 0,
        // Upright on screen: the view flips y (row 0 at the top), which would turn world-aligned icons upside down.
        billboard: true,
      }),
  );
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

/** The projected points as binary columns (world positions, label colours), built once per atlas: no per-point object. */
export function pointColumns(atlas: Atlas): { length: number; positions: Float32Array; colors: Uint8Array } {
  const { layoutX, layoutY, input } = atlas.points;
  const n = layoutX.length;
  const labels = atlas.inputs.label;
  // One colour per label, looked up by index: the palette's arrays are never touched per point.
  const palette = new Uint8Array(3 * (atlas.labelNames.length + 1));
  for (let l = -1; l < atlas.labelNames.length; l++) palette.set(labelColor(l), 3 * (l + 1));
  const positions = new Float32Array(2 * n);
  const colors = new Uint8Array(3 * n);
  for (let r = 0; r < n; r++) {
    positions[2 * r] = layoutX[r] * WORLD_SIZE;
    positions[2 * r + 1] = layoutY[r] * WORLD_SIZE;
    const o = 3 * (labels[input[r]] + 1);
    colors[3 * r] = palette[o];
    colors[3 * r + 1] = palette[o + 1];
    colors[3 * r + 2] = palette[o + 2];
  }
  return { length: n, positions, colors };
}

/** The columns of some of the points (indices into them), for drawing those alone. */
export function someOfColumns(columns: ReturnType<typeof pointColumns>, ids: Uint32Array): ReturnType<typeof pointColumns> {
  const positions = new Float32Array(2 * ids.length);
  const colors = new Uint8Array(3 * ids.length);
  for (let k = 0; k < ids.length; k++) {
    const p = ids[k];
    positions[2 * k] = columns.positions[2 * p];
    positions[2 * k + 1] = columns.positions[2 * p + 1];
    colors[3 * k] = columns.colors[3 * p];
    colors[3 * k + 1] = columns.colors[3 * p + 1];
    colors[3 * k + 2] = columns.colors[3 * p + 2];
  }
  return { length: ids.length, positions, colors };
}

/** The projected points over the icons, coloured by label; `opacity` fades them out where the density image takes over. */
export function pointLayer(id: string, points: ReturnType<typeof pointColumns>, opacity = 1): Layer {
  return new ScatterplotLayer({
    id: `${id}-points`,
    data: {
      length: points.length,
      attributes: { getPosition: { value: points.positions, size: 2 }, getFillColor: { value: points.colors, size: 3 } },
    },
    getRadius: 1.6,
    radiusUnits: 'pixels',
    opacity: 0.8 * opacity,
    // Hidden, not removed: its GPU buffers stay for when the zoom brings the points back.
    visible: opacity > 0,
  });
}

/** A density image as a canvas, the layer's texture source. */
export function densityCanvas(image: DensityImage): HTMLCanvasElement {
  const canvas = document.createElement('canvas');
  canvas.width = image.size;
  canvas.height = image.size;
  canvas.getContext('2d')!.putImageData(new ImageData(image.rgba, image.size, image.size), 0, 0);
  return canvas;
}

/** Points binned into an image over the whole layout, drawn where they are denser than pixels; the layer owns its texture. */
export function densityLayer(id: string, canvas: HTMLCanvasElement, opacity: number): Layer {
  return new BitmapLayer({
    id: `${id}-density`,
    // deck's 'image' prop type also takes a canvas; the texture it makes is this layer's to delete.
    image: canvas as unknown as string,
    // [left, bottom, right, top] in world units: the view flips y, so the image's first row lies at y = 0.
    bounds: [0, WORLD_SIZE, WORLD_SIZE, 0],
    opacity,
    visible: opacity > 0,
  });
}

/** The selected points as binary columns (world positions), once per selection. */
export function selectionColumns(atlas: Atlas, selection: readonly number[]): { length: number; positions: Float32Array } {
  const positions = new Float32Array(2 * selection.length);
  const { layoutX, layoutY } = atlas.points;
  for (let k = 0; k < selection.length; k++) {
    positions[2 * k] = layoutX[selection[k]] * WORLD_SIZE;
    positions[2 * k + 1] = layoutY[selection[k]] * WORLD_SIZE;
  }
  return { length: selection.length, positions };
}

/** The selection's colour, as points and as its density image. */
export const SELECTION_COLOR: [number, number, number] = [255, 170, 40];

/** The selected points, drawn over the icons; `opacity` fades them where the selection's density image takes over. */
export function selectionLayer(id: string, selected: ReturnType<typeof selectionColumns>, opacity = 1): Layer {
  return new ScatterplotLayer({
    id: `${id}-selection`,
    data: { length: selected.length, attributes: { getPosition: { value: selected.positions, size: 2 } } },
    getFillColor: [...SELECTION_COLOR, 230],
    getRadius: 2.2,
    radiusUnits: 'pixels',
    opacity,
    visible: opacity > 0,
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
