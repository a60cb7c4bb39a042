import type { Metric, ProjectionMethod } from '../compute/types';
import type { PositionSampling } from '../compute/atlas';
import { useAtlasStore } from '../store';

const METHODS: { value: ProjectionMethod; label: string }[] = [
  { value: 'umap', label: 'UMAP' },
  { value: 'tsne', label: 't-SNE' },
  { value: 'umap-js', label: 'UMAP (umap-js, reference)' },
  { value: 'tsne-js', label: 't-SNE (tsne-js, reference)' },
];

const SAMPLES: { value: string; label: string }[] = [
  { value: 'pooled', label: 'pooled (1 per image)' },
  { value: '1', label: '1 position' },
  { value: '4', label: '4 positions' },
  { value: '9', label: '9 positions' },
  { value: '16', label: '16 positions' },
  { value: 'all', label: 'every position' },
];

const parseSamples = (v: string): PositionSampling => (v === 'pooled' || v === 'all' ? v : Number(v));

/** Projection method and its parameters, and how many positions each input gives. */
export function ProjectionPanel() {
  const params = useAtlasStore((s) => s.params);
  const setParams = useAtlasStore((s) => s.setParams);
  const spatial = useAtlasStore((s) => (s.model?.layers.find((l) => l.name === s.layer)?.positionShape.length ?? 1) > 0);
  const isUmap = params.method.startsWith('umap');

  return (
    <section className="panel">
      <h2>Projection</h2>
      <label className="field">
        <span>Method</span>
        <select data-testid="method-select" value={params.method} onChange={(e) => setParams({ method: e.target.value as ProjectionMethod })}>
          {METHODS.map((m) => (
            <option key={m.value} value={m.value}>
              {m.label}
            </option>
          ))}
        </select>
      </label>
      {isUmap ? (
        <>
          <label className="field">
            <span>Neighbours</span>
            <input data-testid="neighbors-input" type="number" min={2} max={200} value={params.nNeighbors} onChange={(e) => setParams({ nNeighbors: Number(e.target.value) })} />
          </label>
          <label className="field">
            <span>Min. distance</span>
            <input data-testid="min-dist-input" type="number" min={0} max={1} step={0.05} value={params.minDist} onChange={(e) => setParams({ minDist: Number(e.target.value) })} />
          </label>
        </>
      ) : (
        <label className="field">
          <span>Perplexity</span>
          <input data-testid="perplexity-input" type="number" min={2} max={100} value={params.perplexity} onChange={(e) => setParams({ perplexity: Number(e.target.value) })} />
        </label>
      )}
      <label className="field">
        <span>{isUmap ? 'Epochs' : 'Iterations'}</span>
        <input
          type="number"
          min={10}
          max={5000}
          placeholder="auto"
          value={params.iterations ?? ''}
          title="Empty: the engine's default for the number of points"
          onChange={(e) => setParams({ iterations: e.target.value === '' ? null : Number(e.target.value) })}
        />
      </label>
      <label className="field">
        <span>Metric</span>
        <select value={params.metric} onChange={(e) => setParams({ metric: e.target.value as Metric })}>
          <option value="cosine">cosine</option>
          <option value="euclidean">euclidean</option>
        </select>
      </label>
      <label className="field">
        <span>PCA first</span>
        <input
          type="number"
          min={0}
          max={512}
          value={params.pcaDims}
          title="Reduce to this many dimensions before projecting; 0 turns PCA off"
          onChange={(e) => setParams({ pcaDims: Number(e.target.value) })}
        />
      </label>
      <label className="field">
        <span>Seed</span>
        <input type="number" value={params.seed} onChange={(e) => setParams({ seed: Number(e.target.value) })} />
      </label>
      <label className="field">
        <span>Samples / input</span>
        <select
          data-testid="samples-select"
          value={String(params.samplesPerInput)}
          disabled={!spatial}
          title={spatial ? 'Positions of the layer recorded per input' : 'This layer has no positions'}
          onChange={(e) => setParams({ samplesPerInput: parseSamples(e.target.value) })}
        >
          {SAMPLES.map((s) => (
            <option key={s.value} value={s.value}>
              {s.label}
            </option>
          ))}
        </select>
      </label>
    </section>
  );
}
