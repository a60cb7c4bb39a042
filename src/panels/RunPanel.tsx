import { STAGES } from '../store/runSlice';
import { useAtlasStore } from '../store';
import { recordingRateLine } from './recordingRate';

const STAGE_NAMES = { decode: 'Decode', record: 'Record', project: 'Project', grid: 'Grid', icons: 'Icons' } as const;

/** Run and Cancel, and one progress bar per pipeline stage. */
export function RunPanel({ onRun, onCancel }: { onRun: () => void; onCancel: () => void }) {
  const running = useAtlasStore((s) => s.running);
  const progress = useAtlasStore((s) => s.progress);
  const status = useAtlasStore((s) => s.status);
  const sampling = useAtlasStore((s) => s.sampling);
  const notices = useAtlasStore((s) => s.notices);
  // An atlas opened from a file was not recorded here: the last build's rate would be about another atlas.
  const recordingStats = useAtlasStore((s) => (s.atlasOrigin === 'build' ? s.recordingStats : null));
  const backend = useAtlasStore((s) => s.backend);
  const finished = !running && status === 'ready';
  const canRun = useAtlasStore(
    (s) => s.modelStatus === 'ready' && (s.userInputs !== null || s.modelOrigin === 'default' || s.modelOrigin === 'default-text'),
  );

  return (
    <section className="panel">
      <div className="row">
        <button type="button" className="primary" data-testid="run-button" onClick={onRun} disabled={!canRun}>
          {running ? 'Restart' : 'Run'}
        </button>
        <button type="button" data-testid="cancel-button" onClick={onCancel} disabled={!running}>
          Cancel
        </button>
        <span className="muted small" data-testid="status">
          {status}
        </span>
      </div>
      <ol className="stages">
        {STAGES.map((stage) => {
          const p = progress[stage];
          const fraction = p && p.total > 0 ? Math.min(1, p.done / p.total) : 0;
          return (
            <li key={stage} className={p ? (fraction >= 1 ? 'done' : 'active') : ''}>
              <span className="stage-name">{STAGE_NAMES[stage]}</span>
              <progress max={1} value={fraction} aria-label={`${STAGE_NAMES[stage]} progress`} />
              <span className="stage-msg muted small">{p ? p.message ?? `${p.done}/${p.total}` : finished ? 'not needed' : ''}</span>
            </li>
          );
        })}
      </ol>
      {recordingStats && (
        <p className="muted small" data-testid="recording-rate">
          {recordingRateLine(recordingStats, backend)}
        </p>
      )}
      {sampling && (
        <p className="muted small">
          Sampled {sampling.kept.toLocaleString()} of {sampling.total.toLocaleString()} activations to fit the memory budget.
        </p>
      )}
      {notices.map((n) => (
        <p key={n} className="muted small" data-testid="run-notice">
          {n}
        </p>
      ))}
    </section>
  );
}
