import { useEffect } from 'react';
import { useAtlasStore, type AtlasViewState } from '../store';
import { KEY_STEPS, stepView } from './viewSteps';

/** Keyboard navigation anywhere on the page outside form fields: + and - zoom, arrows pan, 0 fits. */
export function useAtlasKeys(fitted: AtlasViewState | null, apply: (next: AtlasViewState) => void): void {
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      const target = e.target as HTMLElement | null;
      if (e.ctrlKey || e.metaKey || e.altKey || target?.closest?.('input, select, textarea, [contenteditable]')) return;
      const step = KEY_STEPS[e.key];
      const view = useAtlasStore.getState().viewState;
      if (!step || !view || !fitted) return;
      e.preventDefault();
      apply(stepView(view, step, fitted));
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [fitted, apply]);
}
