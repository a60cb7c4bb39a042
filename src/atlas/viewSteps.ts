import type { AtlasViewState } from '../store';

export type ViewStep = 'zoomIn' | 'zoomOut' | 'fit' | 'left' | 'right' | 'up' | 'down';

export const KEY_STEPS: Record<string, ViewStep> = {
  '+': 'zoomIn',
  '=': 'zoomIn',
  '-': 'zoomOut',
  _: 'zoomOut',
  '0': 'fit',
  ArrowLeft: 'left',
  ArrowRight: 'right',
  ArrowUp: 'up',
  ArrowDown: 'down',
};

const PAN_PX = 80;

/** The view after one keyboard or button step; zoom stays within [fit - 2, fit + 6]. */
export function stepView(view: AtlasViewState, step: ViewStep, fitted: AtlasViewState): AtlasViewState {
  const zoom = (z: number) => Math.min(fitted.zoom + 6, Math.max(fitted.zoom - 2, z));
  const [x, y] = view.target;
  const pan = PAN_PX / 2 ** view.zoom;
  switch (step) {
    case 'zoomIn':
      return { ...view, zoom: zoom(view.zoom + 1) };
    case 'zoomOut':
      return { ...view, zoom: zoom(view.zoom - 1) };
    case 'fit':
      return { target: fitted.target, zoom: fitted.zoom };
    case 'left':
      return { ...view, target: [x - pan, y, 0] };
    case 'right':
      return { ...view, target: [x + pan, y, 0] };
    case 'up':
      return { ...view, target: [x, y - pan, 0] };
    case 'down':
      return { ...view, target: [x, y + pan, 0] };
  }
}
