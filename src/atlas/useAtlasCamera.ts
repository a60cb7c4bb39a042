import { useCallback, useEffect, useMemo, useState, type RefObject } from 'react';
import { useAtlasStore, type AtlasViewState } from '../store';
import { fitZoom, gridSizeForZoom, WORLD_SIZE } from './geometry';
import { useAtlasKeys } from './useAtlasKeys';
import { stepView, type ViewStep } from './viewSteps';

export interface FittedView extends AtlasViewState {
  minZoom: number;
  maxZoom: number;
}

/**
 * The camera over the atlas: fits a new atlas to the element's size, keeps the grid level in step
 * with the zoom, and takes keyboard and toolbar steps. `onResize` runs whenever the element resizes; `size` is its size.
 */
export function useAtlasCamera(element: RefObject<HTMLElement | null>, sizes: readonly number[], onResize: () => void) {
  const [size, setSize] = useState<{ width: number; height: number } | null>(null);
  const setViewState = useAtlasStore((s) => s.setViewState);
  const setGridSize = useAtlasStore((s) => s.setGridSize);
  const viewState = useAtlasStore((s) => s.viewState);

  useEffect(() => {
    const el = element.current;
    if (!el) return;
    const observer = new ResizeObserver(([entry]) => {
      const { width, height } = entry.contentRect;
      setSize((old) => (old && old.width === width && old.height === height ? old : { width, height }));
      onResize();
    });
    observer.observe(el);
    return () => observer.disconnect();
  }, [element, onResize]);

  const fitted = useMemo<FittedView | null>(() => {
    if (!size) return null;
    const zoom = fitZoom(size.width, size.height);
    return { target: [WORLD_SIZE / 2, WORLD_SIZE / 2, 0], zoom, minZoom: zoom - 2, maxZoom: zoom + 6 };
  }, [size]);

  const apply = useCallback(
    (next: AtlasViewState) => {
      setViewState({ target: next.target, zoom: next.zoom });
      const level = gridSizeForZoom(next.zoom, sizes);
      if (level && level !== useAtlasStore.getState().gridSize) setGridSize(level);
    },
    [sizes, setViewState, setGridSize],
  );

  // A new atlas clears the view state; fit it as soon as the size is known.
  useEffect(() => {
    if (fitted && !viewState) apply(fitted);
  }, [fitted, viewState, apply]);

  useAtlasKeys(fitted, apply);

  const step = useCallback(
    (s: ViewStep) => {
      const view = useAtlasStore.getState().viewState;
      if (view && fitted) apply(stepView(view, s, fitted));
    },
    [fitted, apply],
  );

  return { viewState, fitted, size, apply, step };
}
