import { OrthographicView, type Layer, type PickingInfo } from '@deck.gl/core';
import DeckGL, { type DeckGLRef } from '@deck.gl/react';
import { memo, useCallback, useEffect, useImperativeHandle, useMemo, useRef, useState, type Ref } from 'react';
import { useAtlasStore, type AtlasViewState } from '../store';
import { cellTints } from './cellTint';
import { cellIconLayer, cellLabelLayer, cellTintLayer, labelsByLevel, outlineLayer, pointColumns, pointLayer, selectionLayer, type Outline } from './atlasLayers';
import { pointsInPolygon, selectedPerCell } from './selection';
import { SelectionOverlay } from './SelectionOverlay';
import type { PlacedLabel } from './cellStyle';
import { CellTooltip } from './CellTooltip';
import { cellAt, cellCenter } from './geometry';
import { cellScreenCenters, type ScreenCenter } from './screenCenters';
import type { AtlasVisuals } from './visuals';
import { AtlasToolbar } from './AtlasToolbar';
import { useAtlasCamera } from './useAtlasCamera';

/** What scripts (the e2e tests) can ask the view. */
export interface AtlasViewHandle {
  cellScreenCenters(): ScreenCenter[];
}

interface Hover {
  i: number;
  j: number;
  x: number;
  y: number;
}

const VIEW = new OrthographicView({ id: 'atlas', flipY: true });
const CONTROLLER = { scrollZoom: { smooth: true, speed: 0.02 }, inertia: 250, keyboard: false, dragRotate: false, touchRotate: false };
const HOVER_COLOR: Outline['color'] = [255, 255, 255, 200];
const SELECTED_COLOR: Outline['color'] = [255, 170, 40, 255];

/**
 * The zoomable atlas: one deck.gl canvas, the grid level following the zoom, click to inspect. Memoised: the
 * page's other state (the run's status) must not re-render it, since every render hands deck.gl new props and
 * costs a WebGL frame (about 60 ms in software GL).
 */
export const AtlasView = memo(function AtlasView({
  visuals,
  ref,
  onVisibleCells,
}: {
  visuals: AtlasVisuals | null;
  ref?: Ref<AtlasViewHandle>;
  /** The (i, j) of the level's cells on screen, after each pan or zoom settles. */
  onVisibleCells?: (gridSize: number, cells: [number, number][]) => void;
}) {
  const deckRef = useRef<DeckGLRef<OrthographicView>>(null);
  const containerRef = useRef<HTMLDivElement>(null);
  const [hover, setHover] = useState<Hover | null>(null);
  // Bumped when the WebGL context is lost: a fresh DeckGL (canvas, context, layers) replaces the dead one.
  const [contextEpoch, setContextEpoch] = useState(0);

  const gridSize = useAtlasStore((s) => s.gridSize);
  const showPoints = useAtlasStore((s) => s.showPoints);
  const showLabels = useAtlasStore((s) => s.showLabels);
  const selected = useAtlasStore((s) => s.selected);
  const atlasVersion = useAtlasStore((s) => s.atlasVersion);
  // New feature-visualisation icons come as a fresh level canvas, which the icon layer re-uploads.
  const iconVersion = useAtlasStore((s) => s.iconVersion);
  const selectCell = useAtlasStore((s) => s.selectCell);
  const selection = useAtlasStore((s) => s.selection);
  const selectTool = useAtlasStore((s) => s.selectTool);
  const applySelection = useAtlasStore((s) => s.applySelection);
  const colourBy = useAtlasStore((s) => s.colourBy);
  const concepts = useAtlasStore((s) => s.concepts);

  const atlas = visuals?.atlas ?? null;
  const sizes = useMemo(() => atlas?.levels.map((l) => l.size) ?? [], [atlas]);

  const clearHover = useCallback(() => setHover(null), []);
  const camera = useAtlasCamera(containerRef, sizes, clearHover);
  const { viewState, fitted } = camera;

  const labels = useMemo(() => (atlas ? labelsByLevel(atlas) : new Map<number, PlacedLabel[]>()), [atlas]);
  // Layers are bound to the deck that initialised them; a rebuilt deck needs new instances.
  const id = `atlas${atlasVersion}.${contextEpoch}`;
  const points = useMemo(() => (atlas && showPoints ? pointColumns(atlas) : null), [atlas, showPoints]);

  const selectedCells = useMemo(
    () => (atlas && selection.length ? selectedPerCell(atlas, gridSize, selection) : null),
    [atlas, gridSize, selection],
  );

  const tintVersion = useRef(0);
  const tints = useMemo(() => {
    const current = atlas?.levels.find((l) => l.size === gridSize);
    tintVersion.current++;
    return atlas && current ? cellTints(atlas, current, colourBy, concepts) : null;
  }, [atlas, gridSize, colourBy, concepts]);

  const baseLayers = useMemo(() => {
    if (!atlas || !visuals) return [];
    const layers: Layer[] = [];
    // Only the level on screen has a layer (and so a texture); zooming to another level makes its own.
    const current = atlas.levels.find((l) => l.size === gridSize);
    const icons = current && visuals.iconAtlas(current.size);
    if (current && icons) layers.push(cellIconLayer(id, current, icons, selectedCells));
    if (current && tints) layers.push(cellTintLayer(id, current, tints, tintVersion.current));
    if (points) layers.push(pointLayer(id, points));
    if (selection.length) layers.push(selectionLayer(id, atlas, selection));
    const placed = current ? labels.get(current.size) : undefined;
    if (current && placed?.length && showLabels) layers.push(cellLabelLayer(id, current, placed));
    return layers;
  }, [atlas, visuals, id, gridSize, points, showLabels, labels, iconVersion, selection, selectedCells, tints]);

  const outlines: Outline[] = [];
  if (hover) outlines.push({ i: hover.i, j: hover.j, gridSize, color: HOVER_COLOR });
  if (selected) outlines.push({ ...selected, color: SELECTED_COLOR });
  const layers = [...baseLayers, outlineLayer(id, outlines)];

  const level = atlas?.levels.find((l) => l.size === gridSize) ?? null;
  const cellIndex = useMemo(() => new Map(level?.cells.map((c) => [`${c.i}:${c.j}`, c]) ?? []), [level]);

  // Hover and click find the cell from the world coordinate: no GPU picking pass, cheap even in software GL.
  const cellUnder = (info: PickingInfo) => {
    if (!info.coordinate || !level) return null;
    const at = cellAt(info.coordinate[0], info.coordinate[1], level.size);
    return at ? cellIndex.get(`${at.i}:${at.j}`) ?? null : null;
  };

  useImperativeHandle(
    ref,
    () => ({
      cellScreenCenters() {
        const deck = deckRef.current?.deck;
        const canvas = deck?.getCanvas();
        const viewport = deck?.getViewports()[0];
        if (!level || !canvas || !viewport) return [];
        const rect = canvas.getBoundingClientRect();
        return cellScreenCenters(level.cells, level.size, (p) => viewport.project(p) as [number, number], rect);
      },
    }),
    [level],
  );

  useEffect(() => {
    if (!onVisibleCells || !level || !viewState) return;
    const timer = setTimeout(() => {
      const deck = deckRef.current?.deck;
      const viewport = deck?.getViewports()[0];
      const canvas = deck?.getCanvas();
      if (!viewport || !canvas) return;
      const { width, height } = canvas.getBoundingClientRect();
      const visible: [number, number][] = [];
      for (const c of level.cells) {
        const [px, py] = viewport.project(cellCenter(c.i, c.j, level.size));
        if (px >= 0 && py >= 0 && px < width && py < height) visible.push([c.i, c.j]);
      }
      onVisibleCells(level.size, visible);
    }, 150);
    return () => clearTimeout(timer);
  }, [onVisibleCells, level, viewState]);

  const onLoad = useCallback(() => {
    const canvas = deckRef.current?.deck?.getCanvas();
    canvas?.addEventListener('webglcontextlost', () => setContextEpoch((e) => e + 1), { once: true });
  }, []);

  const hoveredCell = hover ? cellIndex.get(`${hover.i}:${hover.j}`) ?? null : null;

  return (
    <div className="atlas-view" data-testid="atlas-view">
      <AtlasToolbar onStep={camera.step} />
      <div className="atlas-canvas" ref={containerRef}>
        {/* Mounted before any atlas exists, so the WebGL context is ready when the first one arrives. */}
        {viewState && fitted && (
          <DeckGL
            key={contextEpoch}
            ref={deckRef}
            views={VIEW}
            viewState={{ ...viewState, minZoom: fitted.minZoom, maxZoom: fitted.maxZoom }}
            onViewStateChange={({ viewState: next }) => {
              setHover(null);
              camera.apply(next as AtlasViewState);
            }}
            controller={selectTool === 'pan' ? CONTROLLER : { ...CONTROLLER, dragPan: false }}
            layers={layers}
            onLoad={onLoad}
            onHover={(info) => {
              const cell = cellUnder(info);
              setHover(cell ? { i: cell.i, j: cell.j, x: info.x, y: info.y } : null);
            }}
            onClick={(info) => {
              const cell = cellUnder(info);
              if (cell) selectCell({ gridSize: level!.size, i: cell.i, j: cell.j });
            }}
            getCursor={({ isDragging }) => (isDragging ? 'grabbing' : hover ? 'pointer' : 'grab')}
          />
        )}
        {atlas && selectTool !== 'pan' && (
          <SelectionOverlay
            tool={selectTool}
            onShape={(screen, mode) => {
              const viewport = deckRef.current?.deck?.getViewports()[0];
              if (!viewport || !atlas) return;
              const world = screen.map((p) => viewport.unproject(p).slice(0, 2) as [number, number]);
              applySelection(pointsInPolygon(atlas, world), mode);
            }}
          />
        )}
        {atlas && hover && hoveredCell && <CellTooltip cell={hoveredCell} labelNames={atlas.labelNames} x={hover.x} y={hover.y} />}
      </div>
    </div>
  );
});
