import { useCallback } from 'react';
import { labelName, strongestChannels } from '../atlas/cellStyle';
import { pointsInCell } from '../atlas/selection';
import type { Atlas } from '../compute/atlas';
import { useRequest } from '../lib/useRequest';
import { rendererFor } from '../renderers';
import { useAtlasStore } from '../store';
import { selectSelectedCell } from '../store/selectors';
import { DirectionComparison, type DirectionImages } from './DirectionComparison';
import { LabelHistogram } from './LabelHistogram';
import { NeuronView } from './NeuronView';
import type { AtlasCell } from '../compute/types';
import type { DictionaryTasks } from './dictionaryTasks';

const CHANNELS_SHOWN = 8;
const LATENTS_SHOWN = 8;

/** The clicked cell: its top-activating inputs, count, label histogram, strongest channels and, with an SAE, strongest latents. */
export function CellInspector({ compare, dictionary }: { compare?: (cell: AtlasCell) => Promise<DirectionImages>; dictionary?: DictionaryTasks | null }) {
  const atlas = useAtlasStore((s) => s.atlas);
  const cell = useAtlasStore(selectSelectedCell);
  const selected = useAtlasStore((s) => s.selected);
  const enlarged = useAtlasStore((s) => s.enlarged);
  const selectCell = useAtlasStore((s) => s.selectCell);
  const enlargeTopInput = useAtlasStore((s) => s.enlargeTopInput);
  const showNeuron = useAtlasStore((s) => s.showNeuron);
  const canCompare = useAtlasStore((s) => s.atlasOrigin === 'build' && s.featureVisStatus !== 'unavailable');
  if (!atlas || !cell || !selected) return null;

  const { InputView, describePosition, topList, CellSection, featureVisualisation } = rendererFor(atlas);
  const channels = strongestChannels(cell.mean, CHANNELS_SHOWN);
  const maxChannel = Math.max(1e-9, ...channels.map((c) => Math.abs(c.value)));
  const big = enlarged !== null ? cell.top[enlarged] : null;

  return (
    <aside className="inspector" data-testid="cell-inspector">
      <div className="row spread">
        <h2>
          Cell ({cell.i}, {cell.j}) <span className="muted">of {selected.gridSize}×{selected.gridSize}</span>
        </h2>
        <button type="button" className="link" aria-label="Close inspector" onClick={() => selectCell(null)}>
          ✕
        </button>
      </div>
      <p>
        <strong data-testid="cell-count">{cell.count}</strong> activation{cell.count === 1 ? '' : 's'} at layer {atlas.layer.name}
      </p>

      {big && (
        <figure className="enlarged" onClick={() => enlargeTopInput(null)} title="Click to close">
          <InputView atlas={atlas} point={big} large direction={cell.mean} />
          <figcaption>
            <div>{atlas.inputs.names[big.input]}</div>
            <div className="muted small">
              label {labelName(atlas.inputs.label[big.input], atlas.labelNames)}
              {atlas.inputs.predicted[big.input] >= 0 &&
                ` · predicted ${labelName(atlas.inputs.predicted[big.input], atlas.labelNames)} (${Math.round(
                  100 * atlas.inputs.probability[big.input],
                )}%)`}
              {big.position >= 0 && ` · ${describePosition(atlas, big.position)}`} · score {big.score.toFixed(2)}
            </div>
          </figcaption>
        </figure>
      )}

      <h3>{topList.title}</h3>
      <div className={topList.className}>
        {cell.top.map((top, rank) => (
          <button
            type="button"
            key={`${top.row}`}
            data-testid={topList.testId}
            className={rank === enlarged ? 'selected' : ''}
            title={`${atlas.inputs.names[top.input]} · score ${top.score.toFixed(2)}`}
            onClick={() => enlargeTopInput(rank === enlarged ? null : rank)}
          >
            <InputView atlas={atlas} point={top} direction={cell.mean} />
          </button>
        ))}
      </div>

      <h3>Labels</h3>
      <LabelHistogram labels={cell.labels} labelNames={atlas.labelNames} total={cell.count} />

      {CellSection && <CellSection atlas={atlas} cell={cell} />}

      {compare && canCompare && featureVisualisation && <DirectionComparison cell={cell} compare={compare} />}

      <h3>Strongest channels of the mean</h3>
      <ul className="histogram">
        {channels.map(({ channel, value }) => (
          <li key={channel} className="clickable" title="Show this neuron" onClick={() => showNeuron(channel)} data-testid="strongest-channel">
            <span className="bar-label">#{channel}</span>
            <span className="bar channel" style={{ width: `${(100 * Math.abs(value)) / maxChannel}%` }} />
            <span className="bar-value">{value.toFixed(2)}</span>
          </li>
        ))}
      </ul>
      <NeuronView atlas={atlas} />
      {dictionary && <CellLatents atlas={atlas} gridSize={selected.gridSize} cell={cell} dictionary={dictionary} />}
    </aside>
  );
}

/**
 * The held SAE's latents strongest over the cell's points (mean activation, silent points 0), each a click away from
 * its view in the Dictionary panel: which dictionary features this region of the atlas is made of.
 */
function CellLatents({ atlas, gridSize, cell, dictionary }: { atlas: Atlas; gridSize: number; cell: AtlasCell; dictionary: DictionaryTasks }) {
  const summary = useAtlasStore((s) => s.saeSummary);
  const shown = useAtlasStore((s) => s.saeLatent);
  const showLatent = useAtlasStore((s) => s.showLatent);
  const run = useCallback(() => dictionary.strongestLatents(pointsInCell(atlas, gridSize, cell.i, cell.j), LATENTS_SHOWN), [atlas, gridSize, cell, dictionary]);
  const found = useRequest(summary ? `${summary.digest}:${gridSize}:${cell.i}:${cell.j}` : null, summary ? run : null);
  if (!summary) return null;
  const max = found.kind === 'done' ? Math.max(1e-9, ...found.result.map((l) => l.mean)) : 1;
  return (
    <section data-testid="cell-latents">
      <h3>Strongest SAE latents</h3>
      {found.kind === 'pending' && <p className="muted small">Finding them…</p>}
      {found.kind === 'error' && <p className="error small">{found.message}</p>}
      {found.kind === 'done' && (
        <>
          <p className="muted small">Mean activation over the cell's {cell.count.toLocaleString('en')} points, and the share each fires on. Click one to see it in the Dictionary panel.</p>
          <ul className="histogram wide-value">
            {found.result.map(({ latent, mean, fired }) => (
              <li key={latent} className={latent === shown ? 'clickable active' : 'clickable'} title="Show this latent" onClick={() => showLatent(latent)} data-testid="cell-latent" data-latent={latent}>
                <span className="bar-label">#{latent}</span>
                <span className="bar channel" style={{ width: `${(100 * mean) / max}%` }} />
                <span className="bar-value">
                  {mean.toFixed(2)} · {Math.round(100 * fired)}%
                </span>
              </li>
            ))}
          </ul>
          {found.result.length === 0 && <p className="muted small">No latent fires on this cell's points.</p>}
        </>
      )}
    </section>
  );
}
