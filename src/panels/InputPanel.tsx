import { useState, type ChangeEvent, type DragEvent } from 'react';
import { pickedFromInput, type PickedFile } from '../lib/inputFiles';
import { rendererOfInputs } from '../renderers';
import { useAtlasStore } from '../store';
import { droppedFiles } from './droppedFiles';

/** The drop zone and pickers for images, text files and folders (sub-folder names become labels), and a box to paste text. */
export function InputPanel({
  onFiles,
  onText,
  onUseSample,
}: {
  onFiles: (files: PickedFile[]) => void;
  onText: (text: string) => void;
  onUseSample: () => void;
}) {
  const userInputs = useAtlasStore((s) => s.userInputs);
  const modelOrigin = useAtlasStore((s) => s.modelOrigin);
  const [over, setOver] = useState(false);
  const [pasted, setPasted] = useState('');
  const picked = (e: ChangeEvent<HTMLInputElement>) => {
    const files = pickedFromInput(e.currentTarget.files);
    e.currentTarget.value = '';
    if (files.length) onFiles(files);
  };

  const onDrop = async (e: DragEvent) => {
    e.preventDefault();
    e.stopPropagation();
    setOver(false);
    onFiles(await droppedFiles(e.dataTransfer));
  };

  return (
    <section className="panel">
      <h2>Inputs</h2>
      <div
        className={`drop-zone${over ? ' over' : ''}`}
        onDragOver={(e) => {
          e.preventDefault();
          setOver(true);
        }}
        onDragLeave={() => setOver(false)}
        onDrop={onDrop}
      >
        <p>Drop images, text files or folders here</p>
        <p className="muted small">
          One sub-folder per label, e.g. cats/…, dogs/…. Text: .txt (a document per paragraph) or .jsonl (a "text" field per
          line, "label" if present). Precomputed activations: an .npy with its points table (.parquet or .jsonl). Or drop an atlas .json to reopen it.
        </p>
        <div className="row">
          <label className="button">
            Images…
            <input type="file" multiple accept="image/*" data-testid="image-input" onChange={picked} />
          </label>
          <label className="button">
            Texts…
            <input type="file" multiple accept=".txt,.jsonl,.text,.md,text/plain" data-testid="text-input" onChange={picked} />
          </label>
          <label className="button" title="A NumPy .npy of activations (rows x dim) with its points table (.parquet or .jsonl: label, text, image per row): an atlas without a model">
            Activations…
            <input type="file" multiple accept=".npy,.parquet,.jsonl,.ndjson" data-testid="activations-input" onChange={picked} />
          </label>
          <label className="button">
            Folder…
            <input type="file" multiple data-testid="folder-input" ref={(el) => el?.setAttribute('webkitdirectory', '')} onChange={picked} />
          </label>
        </div>
      </div>
      <form
        className="text-paste"
        onSubmit={(e) => {
          e.preventDefault();
          if (pasted.trim()) onText(pasted);
        }}
      >
        <textarea
          data-testid="text-paste"
          rows={4}
          placeholder="Or paste text: one document per paragraph (the built-in text model reads English)"
          value={pasted}
          onChange={(e) => setPasted(e.target.value)}
        />
        <button type="submit" data-testid="text-run" disabled={!pasted.trim()}>
          Build a token atlas
        </button>
      </form>
      <p className="muted small" data-testid="input-summary">
        {userInputs
          ? `${userInputs.count} ${rendererOfInputs(userInputs.kind).inputs.noun}${userInputs.count === 1 ? '' : 's'}${
              userInputs.labels.length ? `, labels: ${userInputs.labels.join(', ')}` : ', unlabelled'
            }`
          : modelOrigin === 'default'
            ? 'Using the bundled sample (Fashion-MNIST test images).'
            : modelOrigin === 'default-text'
              ? 'Using the bundled sample (held-out paragraphs of Moby-Dick).'
              : 'No inputs yet.'}
      </p>
      {userInputs && (modelOrigin === 'default' || modelOrigin === 'default-text') && (
        <button type="button" className="link" onClick={onUseSample}>
          Back to the bundled sample
        </button>
      )}
    </section>
  );
}
