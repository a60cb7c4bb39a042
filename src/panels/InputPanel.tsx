import { useState, type DragEvent } from 'react';
import { pickedFromInput, type PickedFile } from '../lib/inputFiles';
import { useAtlasStore } from '../store';
import { droppedFiles } from './droppedFiles';

/** The drop zone and pickers for images and folders (sub-folder names become labels). */
export function InputPanel({ onFiles, onUseSample }: { onFiles: (files: PickedFile[]) => void; onUseSample: () => void }) {
  const userInputs = useAtlasStore((s) => s.userInputs);
  const modelOrigin = useAtlasStore((s) => s.modelOrigin);
  const [over, setOver] = useState(false);

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
        <p>Drop images or folders here</p>
        <p className="muted small">One sub-folder per label, e.g. cats/…, dogs/… — or drop an atlas .json to reopen it.</p>
        <div className="row">
          <label className="button">
            Images…
            <input
              type="file"
              multiple
              accept="image/*"
              data-testid="image-input"
              onChange={(e) => {
                const files = pickedFromInput(e.currentTarget.files);
                e.currentTarget.value = '';
                if (files.length) onFiles(files);
              }}
            />
          </label>
          <label className="button">
            Folder…
            <input
              type="file"
              multiple
              data-testid="folder-input"
              ref={(el) => el?.setAttribute('webkitdirectory', '')}
              onChange={(e) => {
                const files = pickedFromInput(e.currentTarget.files);
                e.currentTarget.value = '';
                if (files.length) onFiles(files);
              }}
            />
          </label>
        </div>
      </div>
      <p className="muted small" data-testid="input-summary">
        {userInputs
          ? `${userInputs.count} image${userInputs.count === 1 ? '' : 's'}${
              userInputs.labels.length ? `, labels: ${userInputs.labels.join(', ')}` : ', unlabelled'
            }`
          : modelOrigin === 'default'
            ? 'Using the bundled sample (Fashion-MNIST test images).'
            : 'No images yet.'}
      </p>
      {userInputs && modelOrigin === 'default' && (
        <button type="button" className="link" onClick={onUseSample}>
          Back to the bundled sample
        </button>
      )}
    </section>
  );
}
