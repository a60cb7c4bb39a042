import { labelName, strongestChannels } from '../atlas/cellStyle';
import { rendererFor } from '../renderers';
import { useAtlasStore } from '../store';
import { selectSelectedCell } from '../store/selectors';
import { DirectionComparison, type DirectionImages } from './DirectionComparison';
import { LabelHistogram } from './LabelHistogram';
import { NeuronView } from './NeuronView';
import type { AtlasCell } from '../compute/types';

const CHANNELS_SHOWN = 8;

/** The clicked cell: its top-activating inputs, count, label histogram and strongest channels. */
export function CellInspector({ compare }: { compare?: (cell: AtlasCell) => Promise<DirectionImages> }) {
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
    </aside>
  );
}
