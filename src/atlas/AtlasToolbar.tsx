import { ICON_QUALITIES, type IconQuality } from '../featureVis/recipe';
import { rendererFor } from '../renderers';
import { useAtlasStore } from '../store';
import type { ViewStep } from './viewSteps';

/** Zoom buttons, layer toggles and what is on screen, over the top of the atlas. */
export function AtlasToolbar({ onStep }: { onStep: (step: ViewStep) => void }) {
  const gridSize = useAtlasStore((s) => s.gridSize);
  const cellCount = useAtlasStore((s) => s.atlas?.levels.find((l) => l.size === s.gridSize)?.cells.length ?? 0);
  const showPoints = useAtlasStore((s) => s.showPoints);
  const showLabels = useAtlasStore((s) => s.showLabels);
  const setShowPoints = useAtlasStore((s) => s.setShowPoints);
  const setShowLabels = useAtlasStore((s) => s.setShowLabels);
  const disabled = useAtlasStore((s) => s.atlas === null);
  const iconMode = useAtlasStore((s) => s.iconMode);
  const setIconMode = useAtlasStore((s) => s.setIconMode);
  const iconQuality = useAtlasStore((s) => s.iconQuality);
  const setIconQuality = useAtlasStore((s) => s.setIconQuality);
  const featureVis = useAtlasStore((s) => s.featureVisLevels.find((l) => l.gridSize === s.gridSize));
  const featureVisStatus = useAtlasStore((s) => s.featureVisStatus);
  const featureVisMessage = useAtlasStore((s) => s.featureVisMessage);
  const selectTool = useAtlasStore((s) => s.selectTool);
  // Without feature visualisations (text) a cell shows its typical tokens: there is nothing to switch.
  const iconModes = useAtlasStore((s) => !s.atlas || rendererFor(s.atlas).featureVisualisation);
  const setSelectTool = useAtlasStore((s) => s.setSelectTool);
  return (
    <div className="atlas-toolbar">
      <button type="button" disabled={disabled} onClick={() => onStep('zoomIn')} aria-label="Zoom in" title="Zoom in (+)">
        +
      </button>
      <button type="button" disabled={disabled} onClick={() => onStep('zoomOut')} aria-label="Zoom out" title="Zoom out (-)">
        −
      </button>
      <button type="button" disabled={disabled} onClick={() => onStep('fit')} title="Fit the whole atlas (0)">
        Fit
      </button>
      <label title="Drag to pan, or select points with a lasso or a box: shift adds to the selection, alt removes">
        drag{' '}
        <select data-testid="select-tool" value={selectTool} disabled={disabled} onChange={(e) => setSelectTool(e.target.value as typeof selectTool)}>
          <option value="pan">pans</option>
          <option value="lasso">lassoes points</option>
          <option value="box">boxes points</option>
        </select>
      </label>
      <label>
        <input type="checkbox" checked={showLabels} onChange={(e) => setShowLabels(e.target.checked)} /> labels
      </label>
      <label>
        <input type="checkbox" checked={showPoints} onChange={(e) => setShowPoints(e.target.checked)} data-testid="points-toggle" /> points
      </label>
      <label title="What each cell shows: the input patch nearest its mean, or an image optimised to excite its mean direction">
        icons{' '}
        <select
          data-testid="icon-mode"
          value={iconMode}
          disabled={!iconModes}
          onChange={(e) => setIconMode(e.target.value as typeof iconMode)}
        >
          <option value="exemplar">dataset exemplars</option>
          <option value="featureVis">feature visualisations</option>
        </select>
      </label>
      {iconModes && iconMode === 'featureVis' && (
        <label title="Feature visualisations' steps and size: fast is quickest, best the most settled (times per icon: docs/methods.md)">
          quality{' '}
          <select data-testid="icon-quality" value={iconQuality} onChange={(e) => setIconQuality(e.target.value as IconQuality)}>
            {ICON_QUALITIES.map((q) => (
              <option key={q} value={q}>
                {q}
              </option>
            ))}
          </select>
        </label>
      )}
      {featureVisStatus !== 'off' && (
        <span className="muted" data-testid="featurevis-info" title={featureVisMessage ?? undefined}>
          {featureVisStatus === 'unavailable' || featureVisStatus === 'failed'
            ? 'feature vis off (see tooltip)'
            : `feature vis ${featureVis?.done ?? 0}/${featureVis?.total ?? 0}`}
        </span>
      )}
      <span className="muted" data-testid="grid-info">
        {disabled ? 'no atlas yet' : `grid ${gridSize}×${gridSize} · ${cellCount} cells`}
      </span>
    </div>
  );
}
