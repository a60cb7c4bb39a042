import { useCallback, useMemo, useState, type ReactNode } from 'react';
import type { Atlas } from '../compute/atlas';
import { useRequest } from '../lib/useRequest';
import { rendererFor } from '../renderers';
import { useAtlasStore } from '../store';
import type { LatentTop, SaeLossRecovered, SaeSummary } from '../workers/protocol';
import type { DictionaryTasks } from './dictionaryTasks';
import type { DirectionTasks } from './directionTasks';
import { asTop, histogramText } from './NeuronsPanel';
import { HistogramBars } from './NeuronView';
import { SaeChart } from './SaeChart';

const LATENTS_LISTED = 40;
const TOP_SHOWN = 12;
const percent = (v: number) => `${(100 * v).toFixed(v < 0.01 ? 2 : 1)}%`;

/** A whole number from a field, or the default where it is left empty. */
const whole = (text: string, fallback: number) => (text.trim() === '' ? fallback : Number(text));

/**
 * A sparse dictionary of the atlas's layer: train a sparse autoencoder (TopK or ReLU) on the atlas's rows with a
 * live curve, or open one in SAELens's layout; its latents by frequency, and each latent's top inputs or contexts.
 */
export function DictionaryPanel({ dictionary, directions, live }: { dictionary: DictionaryTasks | null; directions: DirectionTasks | null; live: boolean }) {
  const atlas = useAtlasStore((s) => s.atlas);
  const task = useAtlasStore((s) => s.saeTask);
  const curve = useAtlasStore((s) => s.saeCurve);
  const epochLoss = useAtlasStore((s) => s.saeEpochLoss);
  const runEnd = useAtlasStore((s) => s.saeRunEnd);
  const summary = useAtlasStore((s) => s.saeSummary);
  const [architecture, setArchitecture] = useState<'topk' | 'relu'>('topk');
  const [latents, setLatents] = useState('');
  const [k, setK] = useState('32');
  const [epochs, setEpochs] = useState('5');
  const [seed, setSeed] = useState('0');
  if (!atlas) return null;
  const dim = atlas.layer.dim;
  const running = task?.status === 'running';

  return (
    <section className="panel" data-testid="dictionary-panel">
      <h2>Dictionary</h2>
      <p className="muted small">
        A sparse autoencoder on the atlas's {atlas.points.input.length.toLocaleString('en')} recorded rows of {atlas.layer.name} ({dim} wide): each latent is a direction that a
        few rows use.
      </p>
      {!live && <p className="muted small">It trains on the activations of an atlas built in this session.</p>}
      <form
        className="sae-settings small"
        onSubmit={(e) => {
          e.preventDefault();
          void dictionary?.train({ architecture, latents: whole(latents, 8 * dim), k: whole(k, 32), epochs: whole(epochs, 5), seed: whole(seed, 0) });
        }}
      >
        <label>
          architecture{' '}
          <select value={architecture} onChange={(e) => setArchitecture(e.target.value as 'topk' | 'relu')} data-testid="sae-architecture">
            <option value="topk">TopK</option>
            <option value="relu">ReLU + L1</option>
          </select>
        </label>
        <label title="Number of latents (8 x the layer's width unless set)">
          latents <input className="narrow" data-testid="sae-latents" placeholder={String(8 * dim)} value={latents} onChange={(e) => setLatents(e.target.value)} />
        </label>
        <label title="Latents kept per row (TopK)">
          k <input className="narrow" data-testid="sae-k" value={k} disabled={architecture !== 'topk'} onChange={(e) => setK(e.target.value)} />
        </label>
        <label>
          epochs <input className="narrow" data-testid="sae-epochs" value={epochs} onChange={(e) => setEpochs(e.target.value)} />
        </label>
        <label>
          seed <input className="narrow" data-testid="sae-seed" value={seed} onChange={(e) => setSeed(e.target.value)} />
        </label>
        <span className="row">
          <button type="submit" data-testid="sae-train" disabled={!live || running || !dictionary}>
            Train
          </button>
          <button type="button" data-testid="sae-cancel" disabled={!running} onClick={() => dictionary?.cancel()}>
            Cancel
          </button>
        </span>
      </form>
      {task && (
        <div data-testid="sae-task" data-status={task.status}>
          <p className={task.status === 'error' ? 'error small' : 'muted small'} data-testid="sae-task-message">
            {task.message}
          </p>
          {task.status === 'running' && <progress className="sae-progress" max={1} value={task.fraction} data-testid="sae-progress" />}
        </div>
      )}
      {(curve.length > 0 || (running && task?.kind === 'train')) && (
        <>
          <h3>
            Training{runEnd === 'cancelled' ? ' (cancelled)' : ''}
            {curve.length > 0 && ` — ${curve[curve.length - 1].rowsSeen.toLocaleString('en')} of ${curve[0].totalRows.toLocaleString('en')} rows`}
          </h3>
          <SaeChart curve={curve} epochLoss={epochLoss.map((l) => l.lossRecovered)} />
          <EpochLoss losses={epochLoss} />
        </>
      )}
      <div className="row small">
        <button type="button" data-testid="sae-save" disabled={!summary || running} onClick={() => void dictionary?.save()}>
          Save (SAELens)
        </button>
        <label className={!live || running ? 'button disabled' : 'button'} title="cfg.json and sae_weights.safetensors, picked together">
          Open SAELens files…
          <input
            type="file"
            multiple
            accept=".json,.safetensors"
            data-testid="sae-open"
            disabled={!live || running}
            onChange={(e) => {
              const files = [...(e.currentTarget.files ?? [])];
              e.currentTarget.value = '';
              if (files.length) void dictionary?.open(files);
            }}
          />
        </label>
      </div>
      {summary && <SaeResult atlas={atlas} summary={summary} dictionary={dictionary} directions={live ? directions : null} />}
    </section>
  );
}

/** The SAE held: its figures over every row, its latents by frequency, and the latent shown. */
function SaeResult({ atlas, summary, dictionary, directions }: { atlas: Atlas; summary: SaeSummary; dictionary: DictionaryTasks | null; directions: DirectionTasks | null }) {
  const latent = useAtlasStore((s) => s.saeLatent);
  const showLatent = useAtlasStore((s) => s.showLatent);
  const poly = useAtlasStore((s) => s.saePolysemanticity);
  const { config, measures, settings } = summary;
  const order = useMemo(() => {
    const live = Array.from({ length: config.dSae }, (_, i) => i).filter((i) => measures.frequency[i] > 0);
    return live.sort((a, b) => measures.frequency[b] - measures.frequency[a] || a - b);
  }, [config.dSae, measures]);
  const made = summary.origin === 'trained' ? `trained in ${summary.seconds!.toFixed(1)} s, ${settings!.epochs} epochs, seed ${settings!.seed}` : 'opened from SAELens files';
  return (
    <div data-testid="sae-result">
      <h3>The SAE</h3>
      <p className="small">
        {config.architecture === 'topk' ? `TopK (k ${config.k})` : 'ReLU'}, {config.dIn} → {config.dSae.toLocaleString('en')} latents, {made}.
      </p>
      <table className="versus" data-testid="sae-metrics">
        <tbody>
          <tr>
            <th>over all {measures.rows.toLocaleString('en')} rows</th>
            <td />
          </tr>
          <tr>
            <th>variance explained</th>
            <td data-testid="sae-fve">{measures.fve.toFixed(3)}</td>
          </tr>
          <tr>
            <th>reconstruction MSE</th>
            <td>{measures.mse.toExponential(3)}</td>
          </tr>
          <tr>
            <th>L0 (active per row)</th>
            <td>{measures.l0.toFixed(2)}</td>
          </tr>
          <tr>
            <th>dead latents</th>
            <td data-testid="sae-dead">
              {measures.deadLatents.toLocaleString('en')} ({percent(measures.deadLatents / config.dSae)})
            </td>
          </tr>
        </tbody>
      </table>
      {atlas.modality === 'text' && <LossRecovered dictionary={dictionary} />}
      <h3>Latents by frequency</h3>
      <p className="muted small">
        {Math.min(LATENTS_LISTED, order.length)} of {order.length.toLocaleString('en')} live latents listed; share of rows each fires on, and its largest activation.
      </p>
      <div className="sae-latents">
        <table className="versus" data-testid="sae-latents">
          <thead>
            <tr>
              <th>latent</th>
              <th>rows</th>
              <th>max</th>
              {poly && <th title={`Clusters of at least ${poly.minMembers} examples at cos ≥ ${poly.threshold}`}>clusters</th>}
            </tr>
          </thead>
          <tbody>
            {order.slice(0, LATENTS_LISTED).map((i) => (
              <tr key={i}>
                <th>
                  <button type="button" className={i === latent ? 'link active' : 'link'} data-testid="sae-latent" data-latent={i} onClick={() => showLatent(i)}>
                    #{i}
                  </button>
                </th>
                <td>{percent(measures.frequency[i])}</td>
                <td>{measures.maxActivation[i].toFixed(2)}</td>
                {poly && <td>{poly.polysemanticity[i]}</td>}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <p className="small">
        <button type="button" data-testid="sae-latent-atlas" disabled={!dictionary} onClick={() => void dictionary?.openLatentAtlas()}>
          Latent atlas ↗
        </button>{' '}
        <span className="muted">opens in a new tab: the live latents laid out by their decoder rows, each named by its top examples.</span>
      </p>
      <LatentPolysemanticity dictionary={dictionary} />
      {latent !== null && <LatentView atlas={atlas} summary={summary} latent={latent} dictionary={dictionary} directions={directions} />}
    </div>
  );
}

/** A one-line form of a measure of the SAE held: its settings, then Measure (off while an SAE task runs). */
function MeasureForm({ dictionary, run, testId, children }: { dictionary: DictionaryTasks | null; run: (dictionary: DictionaryTasks) => Promise<void>; testId: string; children: ReactNode }) {
  const busy = useAtlasStore((s) => s.saeTask?.status === 'running');
  return (
    <form
      className="row small"
      onSubmit={(e) => {
        e.preventDefault();
        if (dictionary) void run(dictionary);
      }}
    >
      {children}
      <button type="submit" data-testid={testId} disabled={!dictionary || busy}>
        Measure
      </button>
    </form>
  );
}

/** A GPT-2 layer's SAE as it stood at the last epoch's end, spliced in for the layer: what the chart's loss recovered line ends on. */
function EpochLoss({ losses }: { losses: readonly SaeLossRecovered[] }) {
  if (!losses.length) return null;
  const last = losses[losses.length - 1];
  return (
    <p className="small muted" data-testid="sae-epoch-loss">
      Loss recovered measured at each epoch's end over the first {last.windows} contexts; after epoch {losses.length}: {last.lossRecovered.toFixed(3)} (loss {last.clean.toFixed(3)} nats clean,{' '}
      {last.spliced.toFixed(3)} spliced, {last.zero.toFixed(3)} zeroed).
    </p>
  );
}

/**
 * A GPT-2 layer's SAE spliced in for the layer over the atlas's first contexts (64 tokens each): the next-token loss
 * clean, with the reconstruction, and with the layer zeroed, and the share of the zeroing's loss the SAE recovers.
 */
function LossRecovered({ dictionary }: { dictionary: DictionaryTasks | null }) {
  const loss = useAtlasStore((s) => s.saeLossRecovered);
  const [contexts, setContexts] = useState('16');
  return (
    <>
      <MeasureForm dictionary={dictionary} run={(d) => d.lossRecovered(contexts)} testId="sae-loss-run">
        <label title="The atlas's texts in contexts of 64 tokens, from the first">
          Loss recovered over <input className="narrow" value={contexts} onChange={(e) => setContexts(e.target.value)} data-testid="sae-loss-contexts" /> contexts
        </label>
      </MeasureForm>
      {loss && (
        <p className="small" data-testid="sae-loss">
          Over {loss.windows} contexts ({loss.predictions.toLocaleString('en')} next tokens): loss {loss.clean.toFixed(3)} nats clean, {loss.spliced.toFixed(3)} with the SAE's
          reconstruction in place of the layer, {loss.zero.toFixed(3)} with the layer zeroed: <strong>loss recovered {loss.lossRecovered.toFixed(3)}</strong> (
          {loss.lossRecoveredExceptFirst.toFixed(3)} with the first token, &lt;|endoftext|&gt;, left as it was).
        </p>
      )}
    </>
  );
}

/**
 * Polysemanticity of the latents by neuron embeddings (Foote's measure, the encoder column as the input weights),
 * over the atlas's rows, beside the neurons' histogram where the Neurons panel measured it.
 */
function LatentPolysemanticity({ dictionary }: { dictionary: DictionaryTasks | null }) {
  const poly = useAtlasStore((s) => s.saePolysemanticity);
  const neurons = useAtlasStore((s) => s.polysemanticity);
  const [threshold, setThreshold] = useState('');
  const [minMembers, setMinMembers] = useState('3');
  return (
    <>
      <h3>Polysemanticity of the latents</h3>
      <MeasureForm dictionary={dictionary} run={(d) => d.latentPolysemanticity(threshold.trim() === '' ? null : Number(threshold), Number(minMembers))} testId="sae-poly-run">
        <label title="Cosine similarity that joins two examples' embeddings">
          cos ≥ <input className="narrow" placeholder={poly ? String(poly.threshold) : 'default'} value={threshold} onChange={(e) => setThreshold(e.target.value)} data-testid="sae-poly-threshold" />
        </label>
        <label title="Examples a cluster needs to count">
          m <input className="narrow" value={minMembers} onChange={(e) => setMinMembers(e.target.value)} data-testid="sae-poly-min" />
        </label>
      </MeasureForm>
      {poly && (
        <p className="small" data-testid="sae-poly-histogram">
          Latents with 0 / 1 / 2… clusters (cos ≥ {poly.threshold}, ≥ {poly.minMembers} examples; the atlas's rows): {histogramText(poly.histogram)}; mean{' '}
          {poly.meanPolysemanticity.toFixed(2)}
          {poly.deadLatents ? `, ${poly.deadLatents.toLocaleString('en')} never fire` : ''}.
          {neurons && ` Neurons (their own examples, cos ≥ ${neurons.threshold}, ≥ ${neurons.minMembers}): ${histogramText(neurons.histogram)}; mean ${neurons.meanPolysemanticity.toFixed(2)}.`}
        </p>
      )}
    </>
  );
}

/** How a latent's activations spread over the rows where it fires (the rows where it does not are counted apart). */
function LatentHistogram({ histogram }: { histogram: LatentTop['histogram'] }) {
  const fired = histogram.counts.reduce((a, b) => a + b, 0);
  return (
    <>
      <p className="small" data-testid="sae-latent-spread" data-fired={fired} data-silent={histogram.silent}>
        {fired
          ? `Fires on ${fired.toLocaleString('en')} rows, from ${histogram.min.toFixed(2)} to ${histogram.max.toFixed(2)}; silent on ${histogram.silent.toLocaleString('en')}.`
          : `Silent on all ${histogram.silent.toLocaleString('en')} rows.`}
      </p>
      {fired > 0 && <HistogramBars counts={histogram.counts} testId="sae-latent-histogram" />}
    </>
  );
}

/**
 * A latent's strongest rows over every recorded row, as the renderer shows inputs or contexts; with the model at hand
 * (`directions`), its top rows become a concept (against the rest of the atlas) for TCAV, the class filter and ranking.
 */
function LatentView({ atlas, summary, latent, dictionary, directions }: { atlas: Atlas; summary: SaeSummary; latent: number; dictionary: DictionaryTasks | null; directions: DirectionTasks | null }) {
  const { InputView, topList, DirectionOutputs } = rendererFor(atlas);
  const run = useCallback((key: string) => dictionary!.latentTop(Number(key.split(':').pop())), [dictionary]);
  const top = useRequest(dictionary ? `${summary.digest}:${latent}` : null, dictionary ? run : null);
  return (
    <section data-testid="sae-latent-view">
      <h3>
        Latent #{latent}: fires on {percent(summary.measures.frequency[latent])} of rows, up to {summary.measures.maxActivation[latent].toFixed(2)}
      </h3>
      {top.kind === 'pending' && <p className="muted small">Finding its top rows…</p>}
      {top.kind === 'error' && <p className="error small">{top.message}</p>}
      {top.kind === 'done' && (
        <>
          <LatentHistogram histogram={top.result.histogram} />
          <div className={topList.className} data-testid="sae-latent-top">
            {Array.from(top.result.rows.subarray(0, TOP_SHOWN), (row, k) => (
              <span key={row} className="neuron-top-point" data-testid={topList.testId} title={`${atlas.inputs.names[atlas.points.input[row]]} · ${top.result.values[k].toFixed(2)}`}>
                <InputView atlas={atlas} point={{ ...asTop(atlas, row), score: top.result.values[k] }} direction={top.result.encoder} />
              </span>
            ))}
          </div>
          {DirectionOutputs && <DirectionOutputs direction={top.result.decoder} />}
          {directions && (
            <button
              type="button"
              className="link"
              data-testid="sae-latent-concept"
              onClick={() =>
                void directions.createConcept(
                  { kind: 'points', points: Array.from(top.result.rows), description: `the ${top.result.rows.length} top points of SAE latent #${latent}` },
                  `latent ${latent}`,
                  'difference-of-means',
                )
              }
            >
              Use as a concept (its {top.result.rows.length} top points against the rest)
            </button>
          )}
        </>
      )}
    </section>
  );
}
