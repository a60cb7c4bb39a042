import { useAtlasStore } from '../store';

/** Readable problems (bad images, models, atlas files); the good inputs still went through. */
export function ErrorList() {
  const errors = useAtlasStore((s) => s.errors);
  const clearErrors = useAtlasStore((s) => s.clearErrors);
  return (
    <section className={`panel errors${errors.length ? '' : ' empty'}`} aria-live="polite">
      {errors.length > 0 && (
        <div className="row spread">
          <h2>Problems ({errors.length})</h2>
          <button type="button" className="link" onClick={clearErrors}>
            clear
          </button>
        </div>
      )}
      <ul data-testid="error-list">
        {errors.map((e, k) => (
          <li key={k}>
            <strong>{e.source}</strong>: {e.message}
          </li>
        ))}
      </ul>
    </section>
  );
}
