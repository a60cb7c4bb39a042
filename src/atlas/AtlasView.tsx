import { OrthographicView, type Layer, type PickingInfo } from '@deck.gl/core';
import DeckGL, { type DeckGLRef } from '@deck.gl/react';
import { memo, useCallback, useEffect, useImperativeHandle, useMemo, useRef, useState, type Ref } from 'react';
import { useAtlasStore, type AtlasViewState } from '../store';
import { cellTints } from './cellTint';
import {
  cellIconLayers,
  cellLabelLayer,
  cellTintLayer,
  densityCanvas,
  densityLayer,
  outlineLayer,
  pointColumns,
  pointLayer,
  SELECTION_COLOR,
  someOfColumns,
  selectionColumns,
  selectionLayer,
  type Outline,
} from './atlasLayers';
import { DENSITY_SIZE, densityImage, pointShare, type DensityImage } from './density';
import { pointIndexFor, pointsInPolygonIndexed, pointsNearRect } from './pointIndex';
import { LASSO_MEASURE, selectedPerCell } from './selection';
import { SelectionOverlay } from './SelectionOverlay';
import { placeLabels, type PlacedLabel } from './cellStyle';
import { CellTooltip } from './CellTooltip';
import { cellAt, cellCenter, WORLD_SIZE } from './geometry';
import { cellScreenCenters, type ScreenCenter } from './screenCenters';
import type { AtlasVisuals } from './visuals';
import { AtlasToolbar } from './AtlasToolbar';
import { useAtlasCamera } from './useAtlasCamera';

/** What scripts (the e2e tests) can ask the view. */
export interface AtlasViewHandle {
  cellScreenCenters(): ScreenCenter[];
  /** Icon tiles of the level on screen still to come (each frame adds TILES_PER_FRAME). */
  iconTilesPending(): number;
}

/**
 * Icon tiles a level brings on screen per frame. Each is a texture upload of up to 1024 x 1024 pixels (12-25 ms in
 * software GL, and a hitch on any GPU when sixteen come at once, as the 160-cell level of a large atlas has), so a
 * level's tiles arrive over a few frames instead of in one.
 */
const TILES_PER_FRAME = 2;

interface Hover {
  i: number;
  j: number;
  x: number;
  y: number;
}

const VIEW = new OrthographicView({ id: 'atlas', flipY: true });
const CONTROLLER = { scrollZoom: { smooth: true, speed: 0.02 }, inertia: 250, keyboard: false, dragRotate: false, touchRotate: false };
/**
 * No multisampling: the atlas draws axis-aligned quads, text from glyph textures and points that smooth their own
 * edges, so MSAA changes nothing visible (screenshots alike), while software GL paid for it in every frame: hovering
 * redrew in 55-75 ms with it and mostly under 50 ms without (Chromium here, the browser's long-task entries).
 */
const DEVICE = { webgl: { antialias: false } };
/**
 * A click is a press and release that stays still; deck.gl's default also wants the two within 250 ms, timed when the
 * page handles them. A frame of 300 ms (a texture upload of new icons in software GL, a slow machine) between the two
 * turned a quick click into no click at all, so a still press up to 1.5 s counts (the atlas has no long-press action).
 */
const RECOGNIZERS = { click: { time: 1500 } };
const HOVER_COLOR: Outline['color'] = [255, 255, 255, 200];
/** From this many points a set (the atlas's, the selection) also gets a density image to fade into; fewer never crowd a pixel. */
const DENSITY_FROM = 50_000;
/** Steps of the points/image blend: layers are rebuilt when the zoom crosses a step, not on every frame of a zoom. */
const FADE_STEPS = 16;

/** A set of points binned into an image and its canvas, for a set large enough to crowd pixels. */
function densityOf(image: DensityImage): { image: DensityImage; canvas: HTMLCanvasElement } {
  return { image, canvas: densityCanvas(image) };
}
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
  const { viewState, fitted, size } = camera;

  // Placed per level when first shown: the finest level of a large atlas has tens of thousands of cells to place.
  const labels = useMemo(() => new Map<number, PlacedLabel[]>(), [atlas]);
  // Layers are bound to the deck that initialised them; a rebuilt deck needs new instances.
  const id = `atlas${atlasVersion}.${contextEpoch}`;
  const points = useMemo(() => (atlas && showPoints ? pointColumns(atlas) : null), [atlas, showPoints]);
  const pointsDensity = useMemo(
    () => (atlas && points && points.length >= DENSITY_FROM ? densityOf(densityImage(atlas.points.layoutX, atlas.points.layoutY, points.colors)) : null),
    [atlas, points],
  );
  const selectedColumns = useMemo(() => (atlas && selection.length ? selectionColumns(atlas, selection) : null), [atlas, selection]);
  const selectedDensity = useMemo(
    () => (atlas && selection.length >= DENSITY_FROM ? densityOf(densityImage(atlas.points.layoutX, atlas.points.layoutY, SELECTION_COLOR, selection)) : null),
    [atlas, selection],
  );
  // Built once per atlas, when a selection tool is picked: every lasso after that reads it.
  const index = useMemo(() => (atlas && selectTool !== 'pan' ? pointIndexFor(atlas.points) : null), [atlas, selectTool]);
  // Where points crowd pixels they give way to their density image; zooming in brings them back.
  const zoom = viewState?.zoom ?? 0;
  const shareOf = (d: { image: DensityImage } | null) => (d ? Math.round(pointShare(d.image, WORLD_SIZE / DENSITY_SIZE, zoom) * FADE_STEPS) / FADE_STEPS : 1);
  const pointsShare = shareOf(pointsDensity);
  // A large atlas draws only the points of the cells in and around the view (all of them cost software GL seconds a
  // frame): gathered again when the view leaves the gathered region or zooms out of it.
  const gathered = useRef<{ rect: [number, number, number, number]; zoom: number } | null>(null);
  let gatherKey = '';
  if (pointsDensity && pointsShare > 0 && viewState && size) {
    const halfW = size.width / 2 / 2 ** zoom / WORLD_SIZE;
    const halfH = size.height / 2 / 2 ** zoom / WORLD_SIZE;
    const [cx, cy] = [viewState.target[0] / WORLD_SIZE, viewState.target[1] / WORLD_SIZE];
    const held = gathered.current;
    const inside = held && cx - halfW >= held.rect[0] && cy - halfH >= held.rect[1] && cx + halfW <= held.rect[2] && cy + halfH <= held.rect[3];
    if (!held || !inside || zoom < held.zoom - 0.5) gathered.current = { rect: [cx - 2 * halfW, cy - 2 * halfH, cx + 2 * halfW, cy + 2 * halfH], zoom };
    gatherKey = gathered.current!.rect.join(' ');
  }
  const drawnPoints = useMemo(() => {
    if (!atlas || !points || !pointsDensity) return points;
    if (!gatherKey || !gathered.current) return null;
    const [x0, y0, x1, y1] = gathered.current.rect;
    return someOfColumns(points, pointsNearRect(pointIndexFor(atlas.points), x0, y0, x1, y1));
  }, [atlas, points, pointsDensity, gatherKey]);
  const selectedShare = shareOf(selectedDensity);

  const selectedCells = useMemo(
    () => (atlas && selection.length ? selectedPerCell(atlas, gridSize, selection) : null),
    [atlas, gridSize, selection],
  );

  // A new atlas's first frame draws its icons without labels; the labels (placed, and a font atlas to build) come in
  // the frame after, so no one task of the page's main thread holds both.
  const [labelsFor, setLabelsFor] = useState<string | null>(null);
  const labelsNow = showLabels && labelsFor === id;
  // The level's icon tiles on screen so far: TILES_PER_FRAME more after each frame, from the level's first frame.
  const levelKey = `${id}:${gridSize}`;
  const [tilesShown, setTilesShown] = useState({ level: '', count: 0 });
  const tileCount = tilesShown.level === levelKey ? tilesShown.count : TILES_PER_FRAME;
  // The level on screen, and its icon tiles: only it has layers (and so textures); zooming to another makes its own.
  const level = atlas?.levels.find((l) => l.size === gridSize) ?? null;
  const icons = (level && visuals?.iconAtlas(level.size)) ?? null;
  const tilesOfLevel = icons?.length ?? 0;

  const tintVersion = useRef(0);
  const tints = useMemo(() => {
    tintVersion.current++;
    return atlas && level ? cellTints(atlas, level, colourBy, concepts) : null;
  }, [atlas, level, colourBy, concepts]);

  const baseLayers = useMemo(() => {
    if (!atlas || !visuals) return [];
    const layers: Layer[] = [];
    if (level && icons) layers.push(...cellIconLayers(id, level, icons.slice(0, tileCount), selectedCells));
    if (level && tints) layers.push(cellTintLayer(id, level, tints, tintVersion.current));
    if (pointsDensity) layers.push(densityLayer(`${id}-points`, pointsDensity.canvas, 1 - pointsShare));
    if (drawnPoints) layers.push(pointLayer(id, drawnPoints, pointsShare));
    if (selectedDensity) layers.push(densityLayer(`${id}-selection`, selectedDensity.canvas, 1 - selectedShare));
    if (selectedColumns) layers.push(selectionLayer(id, selectedColumns, selectedShare));
    let placed = level && labelsNow ? labels.get(level.size) : undefined;
    if (level && labelsNow && !placed) labels.set(level.size, (placed = placeLabels(level.cells, atlas.labelNames)));
    if (level && placed?.length && labelsNow) layers.push(cellLabelLayer(id, level, placed));
    return layers;
  }, [atlas, visuals, id, level, icons, drawnPoints, pointsDensity, pointsShare, labelsNow, labels, iconVersion, selectedColumns, selectedDensity, selectedShare, selectedCells, tints, tileCount]);

  const outlines: Outline[] = [];
  if (hover) outlines.push({ i: hover.i, j: hover.j, gridSize, color: HOVER_COLOR });
  if (selected) outlines.push({ ...selected, color: SELECTED_COLOR });
  const layers = [...baseLayers, outlineLayer(id, outlines)];

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
      iconTilesPending: () => Math.max(0, tilesOfLevel - tileCount),
    }),
    [level, tilesOfLevel, tileCount],
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
        {/*
          Mounted before any atlas exists, so the WebGL context is ready when the first one arrives, and kept while a new
          atlas has no view state yet: a remount makes a new context, whose shaders software GL takes seconds to compile.
        */}
        {fitted && (
          <DeckGL
            key={contextEpoch}
            ref={deckRef}
            views={VIEW}
            deviceProps={DEVICE}
            viewState={{ ...(viewState ?? fitted), minZoom: fitted.minZoom, maxZoom: fitted.maxZoom }}
            onViewStateChange={({ viewState: next }) => {
              setHover(null);
              camera.apply(next as AtlasViewState);
            }}
            controller={selectTool === 'pan' ? CONTROLLER : { ...CONTROLLER, dragPan: false }}
            eventRecognizerOptions={RECOGNIZERS}
            layers={layers}
            onLoad={onLoad}
            onAfterRender={() => {
              if (atlas && labelsFor !== id) setLabelsFor(id);
              if (tileCount < tilesOfLevel) setTilesShown({ level: levelKey, count: tileCount + TILES_PER_FRAME });
            }}
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
              if (!viewport || !atlas || !index) return;
              const started = performance.now();
              const world = screen.map((p) => viewport.unproject(p).slice(0, 2) as [number, number]);
              const hits = pointsInPolygonIndexed(index, atlas.points.layoutX, atlas.points.layoutY, world);
              applySelection(hits, mode);
              // The lasso's cost on the page's thread (index query and store update), on the performance timeline.
              performance.measure(LASSO_MEASURE, { start: started, detail: hits.length });
            }}
          />
        )}
        {atlas && hover && hoveredCell && <CellTooltip cell={hoveredCell} labelNames={atlas.labelNames} x={hover.x} y={hover.y} />}
      </div>
    </div>
  );
});
