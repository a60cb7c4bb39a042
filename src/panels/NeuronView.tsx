import { useCallback, useContext, useMemo } from 'react';
import type { Atlas } from '../compute/atlas';
import { useRequest } from '../lib/useRequest';
import { rendererFor } from '../renderers';
import { InspectorServicesContext } from '../renderers/inspectorServices';
import { useAtlasStore } from '../store';

const TOP_SHOWN = 12;

/** A histogram's bins as bars scaled to the tallest, each titled with its count: a neuron's or a latent's activations. */
export function HistogramBars({ counts, testId }: { counts: number[]; testId: string }) {
  const tallest = Math.max(1, ...counts);
  return (
    <div className="neuron-histogram" data-testid={testId}>
      {counts.map((n, k) => (
        <span key={k} style={{ height: `${(100 * n) / tallest}%` }} title={`${n}`} />
      ))}
    </div>
  );
}

/** One neuron (channel) of the recorded layer: its top points, the spread of its activations, and for text what it writes to the output. */
export function NeuronView({ atlas }: { atlas: Atlas }) {
  const services = useContext(InspectorServicesContext);
  const neuron = useAtlasStore((s) => s.neuron);
  const showNeuron = useAtlasStore((s) => s.showNeuron);
  const atlasVersion = useAtlasStore((s) => s.atlasVersion);
  const dim = atlas.layer.dim;
  const run = useCallback((key: string) => services!.neuronProfile(Number(key.split(':')[1])), [services]);
  const profile = useRequest(services && neuron !== null ? `${atlasVersion}:${neuron}` : null, services ? run : null);
  const basis = useMemo(() => {
    const d = new Float32Array(dim);
    if (neuron !== null && neuron < dim) d[neuron] = 1;
    return d;
  }, [neuron, dim]);
  const { InputView, topList, DirectionOutputs } = rendererFor(atlas);
  // Every recorded row's ranking, kept in the atlas (also when opened from a file); the live profile ranks the sample.
  const unitTop = neuron !== null && atlas.units && neuron < dim ? atlas.units.top[neuron] : null;
  const unitStats = unitTop && atlas.units ? { mean: atlas.units.mean[neuron!], std: atlas.units.std[neuron!], min: atlas.units.min[neuron!], max: atlas.units.max[neuron!] } : null;

  return (
    <section data-testid="neuron-view">
      <h3>Neuron</h3>
      <form
        className="row"
        onSubmit={(e) => {
          e.preventDefault();
          const value = Number(new FormData(e.currentTarget).get('neuron'));
          if (Number.isInteger(value)) showNeuron(value);
        }}
      >
        <input name="neuron" data-testid="neuron-input" type="number" min={0} max={dim - 1} placeholder={`0 to ${dim - 1}`} defaultValue={neuron ?? ''} key={neuron ?? 'none'} />
        <button type="submit" disabled={!services && !atlas.units}>
          Show
        </button>
      </form>
      {unitTop && unitStats && (
        <>
          <p className="small" data-testid="neuron-stats">
            #{neuron} over all {atlas.units!.rows.toLocaleString('en')} recorded rows: mean {unitStats.mean.toFixed(3)}, std {unitStats.std.toFixed(3)}, from{' '}
            {unitStats.min.toFixed(2)} to {unitStats.max.toFixed(2)}
          </p>
          <div className={topList.className} data-testid="neuron-top">
            {unitTop.slice(0, TOP_SHOWN).map(([input, position, value], k) => (
              <span key={k} className="neuron-top-point" title={`${atlas.inputs.names[input]} · ${value.toFixed(2)}`}>
                <InputView atlas={atlas} point={{ row: -1, input, position, score: value }} direction={basis} />
              </span>
            ))}
          </div>
        </>
      )}
      {!services && !unitTop && <p className="muted small">The neuron view reads the activations of an atlas built in this session.</p>}
      {profile.kind === 'pending' && <p className="muted small">Ranking every recorded point…</p>}
      {profile.kind === 'error' && <p className="error small">{profile.message}</p>}
      {profile.kind === 'done' && (
        <>
          <p className="small">
            #{profile.result.neuron} over the layout's {atlas.points.input.length.toLocaleString('en')} points: activations from {profile.result.histogram.min.toFixed(2)} to {profile.result.histogram.max.toFixed(2)}
          </p>
          <HistogramBars counts={profile.result.histogram.counts} testId="neuron-histogram" />
          {!unitTop && (
            <div className={topList.className} data-testid="neuron-top">
              {profile.result.top.slice(0, TOP_SHOWN).map((point) => (
                <span key={point.row} className="neuron-top-point" title={`${atlas.inputs.names[point.input]} · ${point.score.toFixed(2)}`}>
                  <InputView atlas={atlas} point={point} direction={basis} />
                </span>
              ))}
            </div>
          )}
          {DirectionOutputs && <DirectionOutputs direction={basis} />}
        </>
      )}
    </section>
  );
}
