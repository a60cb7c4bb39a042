import { useState } from 'react';
import { PNG_SIZES } from '../atlas/png';
import { useAtlasStore } from '../store';

/** PNG of the whole current grid level, the atlas JSON, its points as Parquet, and reopening a saved atlas. */
export function ExportPanel({
  onExportPng,
  onExportJson,
  onExportPoints,
  onOpenAtlas,
}: {
  onExportPng: (size: number) => Promise<void>;
  onExportJson: () => void;
  onExportPoints: () => void;
  onOpenAtlas: (file: File) => void;
}) {
  const hasAtlas = useAtlasStore((s) => s.atlas !== null);
  const gridSize = useAtlasStore((s) => s.gridSize);
  const pngSize = useAtlasStore((s) => s.pngSize);
  const setPngSize = useAtlasStore((s) => s.setPngSize);
  const [busy, setBusy] = useState(false);

  return (
    <section className="panel">
      <h2>Export</h2>
      <div className="row">
        <select value={pngSize} onChange={(e) => setPngSize(Number(e.target.value))} data-testid="png-size" aria-label="PNG size">
          {PNG_SIZES.map((s) => (
            <option key={s} value={s}>
              {s} px
            </option>
          ))}
        </select>
        <button
          type="button"
          data-testid="export-png"
          disabled={!hasAtlas || busy}
          title={`The whole ${gridSize}×${gridSize} grid, not just what is on screen`}
          onClick={async () => {
            setBusy(true);
            try {
              await onExportPng(pngSize);
            } finally {
              setBusy(false);
            }
          }}
        >
          {busy ? 'Rendering…' : 'PNG'}
        </button>
        <button type="button" data-testid="export-json" disabled={!hasAtlas} onClick={onExportJson}>
          JSON
        </button>
        <button
          type="button"
          data-testid="export-points"
          disabled={!hasAtlas}
          onClick={onExportPoints}
          title="Every point's x, y, finest-grid cell, input, position, label and text, for pandas or Embedding Atlas"
        >
          Points (Parquet)
        </button>
      </div>
      <label className="button">
        Open atlas JSON…
        <input
          type="file"
          accept=".json,application/json"
          data-testid="atlas-input"
          onChange={(e) => {
            const file = e.currentTarget.files?.[0];
            e.currentTarget.value = '';
            if (file) onOpenAtlas(file);
          }}
        />
      </label>
    </section>
  );
}
