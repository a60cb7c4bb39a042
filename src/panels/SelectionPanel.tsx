import { useMemo } from 'react';
import { selectedInputs } from '../atlas/selection';
import type { Atlas } from '../compute/atlas';
import type { TopInput } from '../compute/types';
import { downloadBlob, fileSlug } from '../export/download';
import { rendererFor } from '../renderers';
import { useAtlasStore } from '../store';
import { LabelHistogram } from './LabelHistogram';

const SHOWN = 12;
export const SELECTION_FORMAT = 'activation-atlas-selection';

/** The selection as a file: the atlas it belongs to, and each selected point's input name and position. */
export function selectionJson(atlas: Atlas, selection: readonly number[]) {
  return {
    format: SELECTION_FORMAT,
    version: 1,
    atlas: { model: atlas.model.name, layer: atlas.layer.name, modality: atlas.modality, positionShape: atlas.layer.positionShape },
    points: selection.map((p) => ({ point: p, input: atlas.inputs.names[atlas.points.input[p]], position: atlas.points.position[p] })),
  };
}

/** The selected points: how many, from which inputs, their labels, a few of them, and the selection as JSON. */
export function SelectionPanel() {
  const atlas = useAtlasStore((s) => s.atlas);
  const selection = useAtlasStore((s) => s.selection);
  const clearSelection = useAtlasStore((s) => s.clearSelection);
  const summary = useMemo(() => {
    if (!atlas || selection.length === 0) return null;
    const inputs = selectedInputs(atlas, selection);
    // Counted into an array by label index: a lasso over a million-point atlas selects hundreds of thousands.
    const counts = new Float64Array(atlas.labelNames.length);
    for (const p of selection) {
      const label = atlas.inputs.label[atlas.points.input[p]];
      if (label >= 0) counts[label]++;
    }
    const labels: [number, number][] = [];
    counts.forEach((n, label) => n > 0 && labels.push([label, n]));
    return { inputs, labels: labels.sort((a, b) => b[1] - a[1] || a[0] - b[0]) };
  }, [atlas, selection]);
  if (!atlas || !summary) return null;
  const { InputView, topList } = rendererFor(atlas);
  const shown: TopInput[] = selection.slice(0, SHOWN).map((p) => ({ row: p, input: atlas.points.input[p], position: atlas.points.position[p], score: 0 }));

  return (
    <section className="panel" data-testid="selection-panel">
      <div className="row spread">
        <h2>Selection</h2>
        <button type="button" className="link" onClick={clearSelection} data-testid="clear-selection">
          clear
        </button>
      </div>
      <p className="small">
        <strong data-testid="selection-count">{selection.length}</strong> point{selection.length === 1 ? '' : 's'} from {summary.inputs.length} input
        {summary.inputs.length === 1 ? '' : 's'}
      </p>
      <LabelHistogram labels={summary.labels} labelNames={atlas.labelNames} total={selection.length} shown={8} />
      <div className={topList.className}>
        {shown.map((point) => (
          <span key={point.row} title={atlas.inputs.names[point.input]}>
            <InputView atlas={atlas} point={point} />
          </span>
        ))}
      </div>
      <button
        type="button"
        data-testid="export-selection"
        onClick={() =>
          downloadBlob(
            new Blob([JSON.stringify(selectionJson(atlas, selection))], { type: 'application/json' }),
            `selection-${fileSlug(atlas.model.name)}-${fileSlug(atlas.layer.name)}.json`,
          )
        }
      >
        Export selection JSON
      </button>
    </section>
  );
}
