import { useState } from 'react';
import type { ModelSource } from '../workers/protocol';
import { rendererOf } from '../renderers';
import { useAtlasStore } from '../store';

/** Where the hub's files are fetched from unless the user sets another base URL (a mirror). */
const HUB_BASE_URL = 'https://huggingface.co';

/** Which model (built-in, files, URL, Hugging Face id), which layer to record, and the backend running it. */
export function ModelPanel({ onLoadModel, onCancelLoad }: { onLoadModel: (source: ModelSource) => void; onCancelLoad: () => void }) {
  const modelProgress = useAtlasStore((s) => s.modelProgress);
  const [hubId, setHubId] = useState('');
  const [hubBase, setHubBase] = useState(HUB_BASE_URL);
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
        <button type="button" data-testid="builtin-image" onClick={() => onLoadModel({ kind: 'default' })} disabled={modelStatus === 'pending'}>
          Built-in CNN
        </button>
        <button type="button" data-testid="builtin-text" onClick={() => onLoadModel({ kind: 'default-text' })} disabled={modelStatus === 'pending'}>
          Built-in GPT-2
        </button>
        <button
          type="button"
          data-testid="builtin-text-wide"
          title="A wider GPT-2 (4 blocks, 128 wide) trained on Moby-Dick and the King James Bible: 14.5 MB"
          onClick={() => onLoadModel({ kind: 'default-text', size: 'wide' })}
          disabled={modelStatus === 'pending'}
        >
          Built-in GPT-2, wide
        </button>
      </div>
      <div className="row">
        <label className="button" title="A TF.js model.json with its weight shards, or a GPT-2's config.json with model.safetensors (or its index and shards), picked together">
          Open model files…
          <input
            type="file"
            multiple
            accept=".json,.bin,.safetensors,application/json,application/octet-stream"
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
      <p className="muted small" data-testid="model-summary">
        {modelStatus === 'pending' && (
          <>
            Loading model…{' '}
            <button type="button" className="link" data-testid="model-cancel" onClick={onCancelLoad}>
              cancel
            </button>
          </>
        )}
        {modelStatus !== 'pending' && model && (
          <>
            {modelOrigin === 'default' || modelOrigin === 'default-text' ? 'Built-in: ' : ''}
            <strong>{model.name}</strong>,{' '}
            {rendererOf(model.modality).describeModel(model)}
          </>
        )}
        {modelStatus === 'error' && !model && 'No model loaded.'}
      </p>
      {modelProgress && (
        <p className="small" data-testid="model-progress">
          <progress max={modelProgress.total || 1} value={modelProgress.total ? modelProgress.done : 0} /> {modelProgress.message}
        </p>
      )}
      <form
        className="row"
        onSubmit={(e) => {
          e.preventDefault();
          if (hubId.trim()) onLoadModel({ kind: 'hub', id: hubId.trim(), baseUrl: hubBase.trim() || HUB_BASE_URL });
        }}
      >
        <input data-testid="hub-id" placeholder="Hugging Face id: gpt2, distilgpt2…" value={hubId} onChange={(e) => setHubId(e.target.value)} aria-label="Hugging Face model id" />
        <button type="submit" disabled={!hubId.trim() || modelStatus === 'pending'}>
          Fetch
        </button>
      </form>
      <details className="small">
        <summary>Hub settings</summary>
        <label className="field">
          <span>Base URL</span>
          <input data-testid="hub-base-url" value={hubBase} onChange={(e) => setHubBase(e.target.value)} aria-label="Hub base URL" />
        </label>
        <p className="muted">Files are fetched from base/id/resolve/main/ and kept in this browser, so the next load is offline.</p>
      </details>
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
        {backend && backend.threads > 1 && <span data-testid="backend-threads">, {backend.threads} threads</span>}
        {backend?.reason && <span className="block clamp">{backend.reason}</span>}
      </p>
    </section>
  );
}
