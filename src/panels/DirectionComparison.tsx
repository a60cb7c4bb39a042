import { useState } from 'react';
import type { AtlasCell } from '../compute/types';

/** Feature visualisations of the cell's mean direction, its strongest neuron and a random direction. */
export interface DirectionImages {
  channel: number;
  images: { title: string; url: string; score: number }[];
}

/** pending -> done | error, for one cell: an answer for any other cell is stale and dropped. */
type State =
  | { kind: 'idle' }
  | { kind: 'pending'; cell: AtlasCell }
  | { kind: 'done'; cell: AtlasCell; result: DirectionImages }
  | { kind: 'error'; cell: AtlasCell; message: string };

/**
 * Are single neurons more interpretable than directions? Shows the cell's direction beside one basis
 * direction (its strongest channel) and a random direction, all optimised the same way.
 */
export function DirectionComparison({ cell, compare }: { cell: AtlasCell; compare: (cell: AtlasCell) => Promise<DirectionImages> }) {
  const [stored, setState] = useState<State>({ kind: 'idle' });
  // What belongs to another cell is never shown under this one, whenever it arrives.
  const state: State = stored.kind !== 'idle' && stored.cell !== cell ? { kind: 'idle' } : stored;

  const run = () => {
    const asked = cell;
    setState({ kind: 'pending', cell: asked });
    const settle = (next: State) => setState((s) => (s.kind === 'pending' && s.cell === asked ? next : s));
    compare(asked).then(
      (result) => settle({ kind: 'done', cell: asked, result }),
      (e: Error) => settle({ kind: 'error', cell: asked, message: e.message }),
    );
  };

  return (
    <section data-testid="direction-comparison">
      <h3>Direction, neuron or random?</h3>
      {state.kind === 'idle' && (
        <button type="button" onClick={run} data-testid="compare-directions">
          Visualise this cell, its strongest neuron and a random direction
        </button>
      )}
      {state.kind === 'pending' && <p className="muted">Optimising three images in the model worker…</p>}
      {state.kind === 'error' && <p className="error">{state.message}</p>}
      {state.kind === 'done' && (
        <div className="direction-images">
          {state.result.images.map((im) => (
            <figure key={im.title}>
              <img src={im.url} alt={im.title} className="pixelated" />
              <figcaption className="small">
                {im.title}
                <br />
                <span className="muted">objective {im.score.toFixed(1)}</span>
              </figcaption>
            </figure>
          ))}
        </div>
      )}
    </section>
  );
}
