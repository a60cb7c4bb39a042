import { useMemo, useState } from 'react';
import type { Atlas } from '../compute/atlas';
import type { DirectionKind, KindSummary, KindTests, ScoreSummary, VersusRandomResult } from '../compute/directions/versusRandom';
import type { TopInput } from '../compute/types';
import { neuronDirections } from '../compute/directions/vectors';
import { rendererFor } from '../renderers';
import { useAtlasStore } from '../store';
import { TaskLine } from './ConceptPanel';
import type { DirectionTasks } from './directionTasks';

const fmt = (s: ScoreSummary | null) => (s && s.count > 0 ? `${s.mean.toFixed(2)} ± ${s.std.toFixed(2)}` : '–');
const fmtP = (t: { p: number } | null) => (t ? (t.p < 1e-3 ? t.p.toExponential(1) : t.p.toFixed(3)) : '–');
const percent = (v: number) => `${(100 * v).toFixed(0)}%`;
/** A polysemanticity histogram as "clusters: units", neurons' or latents'. */
export const histogramText = (histogram: number[]) => histogram.map((n, c) => `${c}: ${n.toLocaleString('en')}`).join(' · ');
const NEURONS_LISTED = 40;
const EXAMPLES_SHOWN = 6;

/** An atlas point (or a recorded example) as the renderers take it. */
export const asTop = (atlas: Atlas, row: number): TopInput => ({ row, input: atlas.points.input[row], position: atlas.points.position[row], score: 0 });

/**
 * The questions about the layer's basis: are neurons more interpretable than random directions (a table of the
 * two distributions, Network Dissection's check, a blind study), and how polysemantic is each neuron (Foote 2024)?
 */
export function NeuronsPanel({ directions, live }: { directions: DirectionTasks | null; live: boolean }) {
  const atlas = useAtlasStore((s) => s.atlas);
  const versus = useAtlasStore((s) => s.versus);
  const busy = useAtlasStore((s) => s.directionsTask?.status === 'running');
  const poly = useAtlasStore((s) => s.polysemanticity);
  const hasSae = useAtlasStore((s) => s.saeSummary !== null);
  const [withLatents, setWithLatents] = useState(true);
  const [k, setK] = useState(32);
  const [topN, setTopN] = useState(20);
  const [threshold, setThreshold] = useState('');
  const [minMembers, setMinMembers] = useState(3);
  if (!atlas) return null;
  const { withoutModel } = rendererFor(atlas);

  return (
    <section className="panel" data-testid="neurons-panel">
      <h2>Neurons</h2>
      {!live && <p className="muted small">These read the activations of an atlas built in this session.</p>}
      <TaskLine directions={directions} />
      <h3>Against random directions</h3>
      <div className="row small">
        <label>
          k <input type="number" className="narrow" min={2} value={k} onChange={(e) => setK(Number(e.target.value))} data-testid="versus-k" />
        </label>
        <label>
          top <input type="number" className="narrow" min={2} value={topN} onChange={(e) => setTopN(Number(e.target.value))} data-testid="versus-top" />
        </label>
        {hasSae && (
          <label className="check" title="Score k of the SAE's live latents beside the neurons and random directions">
            <input type="checkbox" checked={withLatents} onChange={(e) => setWithLatents(e.target.checked)} data-testid="versus-latents" /> SAE latents
          </label>
        )}
        <button type="button" data-testid="versus-run" disabled={!live || busy} onClick={() => void directions?.versusRandom(k, topN, hasSae && withLatents)}>
          Compare
        </button>
      </div>
      {versus && <VersusTable result={versus.result} labels={versus.labels} />}
      {versus && (
        <button type="button" data-testid="study-start" onClick={() => directions?.startStudy()}>
          Blind study ({versus.result.directions.length} directions)
        </button>
      )}
      <h3>Polysemanticity</h3>
      {withoutModel && <p className="muted small">Polysemanticity records neurons' examples with the model, and this atlas has none.</p>}
      <form
        className="row small"
        onSubmit={(e) => {
          e.preventDefault();
          void directions?.polysemanticity(threshold.trim() === '' ? null : Number(threshold), minMembers);
        }}
      >
        <label title="Cosine similarity that joins two examples' embeddings">
          cos ≥ <input className="narrow" data-testid="poly-threshold" placeholder={poly ? String(poly.threshold) : 'default'} value={threshold} onChange={(e) => setThreshold(e.target.value)} />
        </label>
        <label title="Examples a cluster needs to count">
          m <input type="number" className="narrow" min={1} value={minMembers} onChange={(e) => setMinMembers(Number(e.target.value))} data-testid="poly-min" />
        </label>
        <button type="submit" data-testid="poly-run" disabled={!live || busy || withoutModel !== undefined}>
          Measure
        </button>
      </form>
      {poly && <PolysemanticityView atlas={atlas} directions={directions} disabled={!live || busy} />}
    </section>
  );
}

function VersusTable({ result, labels }: { result: VersusRandomResult; labels: string }) {
  const { neuron, random, latent } = result.summary;
  const { latentTests, dictionary } = result;
  const withLatents = latent && latentTests && dictionary ? { latent, latentTests, dictionary } : null;
  const scores: [keyof KindTests, string][] = [
    ['purity', `Share of the top ${result.topN} inputs with the most common label (${labels})`],
    ['spread', 'Spread of the top inputs\' activations over their lift above the mean (lower: alike)'],
    ['coherence', 'Mean pairwise cosine of the top inputs\' centred activations'],
  ];
  // A row per kind, then a row per test: three narrow columns, whatever the kinds.
  const kinds: [string, string, KindSummary][] = [
    ['neuron', `${result.neurons} neurons`, neuron],
    ['random', `${result.neurons} random`, random],
  ];
  const tests: [string, string, KindTests][] = [['neurons-random', 'p, neurons vs random', result.tests]];
  if (withLatents) {
    kinds.push(['latent', `${withLatents.dictionary.latents} SAE latents`, withLatents.latent]);
    tests.push(['latents-neurons', 'p, latents vs neurons', withLatents.latentTests.versusNeurons], ['latents-random', 'p, latents vs random', withLatents.latentTests.versusRandom]);
  }
  const d = result.dissection;
  return (
    <>
      <table className="versus" data-testid="versus-table">
        <thead>
          <tr>
            <th />
            {scores.map(([name, title]) => (
              <th key={name} title={title}>
                {name}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {kinds.map(([kind, name, summary]) => (
            <tr key={kind} data-testid={`versus-${kind}`}>
              <th>{name}</th>
              {scores.map(([score]) => (
                <td key={score}>{fmt(summary[score])}</td>
              ))}
            </tr>
          ))}
          {tests.map(([id, name, t]) => (
            <tr key={id} className="muted" data-testid={`versus-p-${id}`} title="Welch's t-test, two-sided">
              <th>{name}</th>
              {scores.map(([score]) => (
                <td key={score}>{fmtP(t[score])}</td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
      {neuron.purity && <PurityStrip result={result} />}
      <p className="small muted">
        {result.liveNeurons} of {result.dim} neurons live
        {withLatents ? `; ${withLatents.dictionary.liveLatents} of the SAE's ${withLatents.dictionary.dSae} latents live (active on at least ${result.topN} inputs)` : ''}; Welch's t-test,
        two-sided. Labels: {labels}.
      </p>
      {d ? (
        <p className="small" data-testid="dissection-rates">
          Network Dissection: {percent(d.basis)} of the layer's {d.units} neurons have top {d.topN} at least {percent(d.threshold)} pure;{' '}
          {percent(d.rotatedMean)} of the directions of {d.rotated.length} random rotations ({d.rotated.map(percent).join(', ')})
          {d.unitsPerRotation < d.units ? `, each rate over ${d.unitsPerRotation} of its ${d.units} directions` : ''}
          {d.latent ? `; ${percent(d.latent.rate)} of the SAE's ${d.latent.units} latents (${percent(d.latent.rateLive)} of the ${d.latent.liveUnits} live), p ${fmtP(d.latent)} against the rotations` : ''}.
        </p>
      ) : (
        <p className="small muted">No labels: Network Dissection's purity check needs them.</p>
      )}
    </>
  );
}

const STRIP_KINDS = { neuron: 'neurons', random: 'random', latent: 'SAE latents' } as const;

/** Each direction's purity as a dot, one row per kind (neurons, random directions, any latents): the distributions side by side. */
function PurityStrip({ result }: { result: VersusRandomResult }) {
  const width = 260;
  const x = (v: number) => 8 + v * (width - 16);
  const kinds = (Object.keys(STRIP_KINDS) as DirectionKind[]).filter((kind) => result.summary[kind]);
  const height = 8 + kinds.length * 18;
  return (
    <svg width={width} height={height + 12} className="purity-strip" data-testid="purity-strip" role="img" aria-label={`Purity of each direction: ${kinds.map((k) => STRIP_KINDS[k]).join(', ')}`}>
      {kinds.map((kind, row) =>
        result.directions
          .filter((d) => d.kind === kind && d.purity !== null)
          .map((d) => <circle key={`${kind}${d.index}`} cx={x(d.purity!)} cy={10 + row * 18} r={3} className={`dot-${kind}`} />),
      )}
      <text x={width - 8} y={height + 8} textAnchor="end" className="tcav-axis">
        purity, a row each: {kinds.map((k) => STRIP_KINDS[k]).join(', ')}
      </text>
    </svg>
  );
}

function PolysemanticityView({ atlas, directions, disabled }: { atlas: Atlas; directions: DirectionTasks | null; disabled: boolean }) {
  const poly = useAtlasStore((s) => s.polysemanticity)!;
  const polyNeuron = useAtlasStore((s) => s.polyNeuron);
  const setPolyNeuron = useAtlasStore((s) => s.setPolyNeuron);
  const neuron = poly.neurons.find((n) => n.index === polyNeuron) ?? null;
  const { InputView, topList } = rendererFor(atlas);
  const dim = atlas.layer.dim;
  const neuronIndex = neuron?.index ?? -1;
  // One array per neuron shown, so the examples' views do not ask again on every render.
  const basis = useMemo(() => (neuronIndex < 0 ? new Float32Array(dim) : neuronDirections(dim, [neuronIndex])), [dim, neuronIndex]);
  return (
    <>
      <p className="small" data-testid="poly-histogram">
        {poly.neurons.length} neurons of {poly.layer}, cos ≥ {poly.threshold}, clusters of ≥ {poly.minMembers}: mean {poly.meanPolysemanticity.toFixed(2)};{' '}
        {histogramText(poly.histogram)}
        {poly.deadNeurons ? ` (${poly.deadNeurons} never fire)` : ''}.
      </p>
      {poly.notices.map((n) => (
        <p key={n} className="small muted">
          {n}
        </p>
      ))}
      <ol className="poly-list">
        {poly.neurons.slice(0, NEURONS_LISTED).map((n) => (
          <li key={n.index}>
            <button type="button" className={n.index === polyNeuron ? 'link active' : 'link'} data-testid="poly-neuron" onClick={() => setPolyNeuron(n.index)}>
              #{n.index}
            </button>{' '}
            <span className="small muted">
              {n.polysemanticity} · {n.examples} ex. · [{n.clusters.slice(0, 4).map((c) => c.size).join(', ')}
              {n.clusters.length > 4 ? ', …' : ''}]
            </span>
          </li>
        ))}
      </ol>
      {neuron && (
        <div data-testid="poly-clusters">
          <p className="small">
            Neuron #{neuron.index}: {neuron.examples} examples (≥ 75% of its maximum {neuron.maxActivation.toFixed(2)}), {neuron.clusters.length} clusters, {neuron.polysemanticity} with ≥ {poly.minMembers}.
          </p>
          {neuron.clusters.slice(0, 4).map((c, ci) => (
            <div key={ci} className="poly-cluster" data-testid="poly-cluster">
              <div className="row spread small">
                <span>
                  Cluster {ci + 1}: {c.size} example{c.size === 1 ? '' : 's'}
                </span>
                <button type="button" className="link" data-testid="poly-concept" disabled={disabled} onClick={() => void directions?.conceptFromCluster(neuron.index, ci, 'difference-of-means')}>
                  as concept
                </button>
              </div>
              <div className={topList.className}>
                {c.top.slice(0, EXAMPLES_SHOWN).map((e, k) => (
                  <span key={k} title={`${atlas.inputs.names[e.input]} · ${e.activation.toFixed(2)}`}>
                    <InputView atlas={atlas} point={{ row: -1, input: e.input, position: e.position, score: e.activation }} direction={basis} />
                  </span>
                ))}
              </div>
            </div>
          ))}
        </div>
      )}
    </>
  );
}
