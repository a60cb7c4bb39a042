import { useState } from 'react';
import type { ModelSource } from '../workers/protocol';
import { useAtlasStore } from '../store';

/** Which model (built-in, files, URL), which layer to record, and the backend running it. */
export function ModelPanel({ onLoadModel }: { onLoadModel: (source: ModelSource) => void }) {
  const model = useAtlasStore((s) => s.model);
  const modelStatus = useAtlasStore((s) => s.modelStatus);
  const modelOrigin = useAtlasStore((s) => s.modelOrigin);
  const layer = useAtlasStore((s) => s.layer);
  const backend = useAtlasStore((s) => s.backend);
  const selectLayer = useAtlasStore((s) => s.selectLayer);
  const [url, setUrl] = useState('');

  return (
    <section className="panel">
      <h2>Model</h2>
      <div className="row">
        <button type="button" onClick={() => onLoadModel({ kind: 'default' })} disabled={modelStatus === 'pending'}>
          Built-in
        </button>
        <label className="button" title="Pick a TF.js model.json and its weight shards together">
          Open model files…
          <input
            type="file"
            multiple
            accept=".json,.bin,application/json,application/octet-stream"
            data-testid="model-input"
            onChange={(e) => {
              const files = Array.from(e.currentTarget.files ?? []);
              e.currentTarget.value = '';
              if (files.length) onLoadModel({ kind: 'files', files });
            }}
          />
        </label>
      </div>
      <form
        className="row"
        onSubmit={(e) => {
          e.preventDefault();
          if (url.trim()) onLoadModel({ kind: 'url', url: url.trim() });
        }}
      >
        <input type="url" placeholder="https://…/model.json" value={url} onChange={(e) => setUrl(e.target.value)} aria-label="Model URL" />
        <button type="submit" disabled={!url.trim()}>
          Load
        </button>
      </form>
      <p className="muted small">
        {modelStatus === 'pending' && 'Loading model…'}
        {modelStatus !== 'pending' && model && (
          <>
            {modelOrigin === 'default' ? 'Built-in: ' : ''}
            <strong>{model.name}</strong>,{' '}
            {model.modality === 'image'
              ? `input ${model.inputHeight}×${model.inputWidth}×${model.inputChannels}`
              : `GPT-2, ${model.nLayer} layers, ${model.nEmbd}-d, context ${model.contextLength}`}
          </>
        )}
        {modelStatus === 'error' && !model && 'No model loaded.'}
      </p>
      <label className="field">
        <span>Layer</span>
        <select data-testid="layer-select" value={layer ?? ''} disabled={!model} onChange={(e) => selectLayer(e.target.value)}>
          {model?.layers.map((l) => (
            <option key={l.name} value={l.name}>
              {l.name} [{l.shape.join('×')}]
            </option>
          ))}
        </select>
      </label>
      <p className="muted small" title={backend?.reason}>
        Backend: <strong data-testid="backend">{backend?.name ?? '…'}</strong>
        {backend?.reason && <span className="block clamp">{backend.reason}</span>}
      </p>
    </section>
  );
}
