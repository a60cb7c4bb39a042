import { useMemo, useState } from 'react';
import { directionVector } from '../compute/directions/versusRandom';
import { rendererFor } from '../renderers';
import { useAtlasStore } from '../store';
import type { DirectionTasks } from './directionTasks';
import { asTop } from './NeuronsPanel';

const SHOWN = 6;

/**
 * The blind study: neurons and random directions (and an SAE's latents, when they were compared) shuffled, each
 * shown only by its top inputs (and, on request, its feature visualisation); the user marks those that look
 * interpretable, then the app reveals which were which, each kind's rate and Fisher's exact test of neurons
 * against random directions.
 */
export function StudyOverlay({ directions }: { directions: DirectionTasks | null }) {
  const study = useAtlasStore((s) => s.study);
  // A new deck is a new study: its images and requests start afresh.
  return study ? <StudyBody key={study.id} directions={directions} /> : null;
}

function StudyBody({ directions }: { directions: DirectionTasks | null }) {
  const atlas = useAtlasStore((s) => s.atlas);
  const study = useAtlasStore((s) => s.study);
  const versus = useAtlasStore((s) => s.versus);
  const mark = useAtlasStore((s) => s.markStudyCard);
  const setStudy = useAtlasStore((s) => s.setStudy);
  const [images, setImages] = useState<{ state: 'idle' | 'pending' | 'error'; urls: string[]; message?: string }>({ state: 'idle', urls: [] });
  const dim = atlas?.layer.dim ?? 0;
  const deck = study?.deck;
  // One vector per card for the deck, so the cards' input views do not ask again on every mark.
  const cardDirections = useMemo(
    () => (deck && versus ? deck.key.map((k) => directionVector(versus.result.directions[k.direction], dim)) : []),
    [deck, versus, dim],
  );
  if (!atlas || !study || !versus) return null;
  const { InputView, topList, featureVisualisation } = rendererFor(atlas);
  const { reveal } = study;

  return (
    <div className="study-overlay" data-testid="study-overlay">
      <div className="row spread">
        <h2>Blind study: which directions are interpretable?</h2>
        <button type="button" className="link" data-testid="study-close" onClick={() => setStudy(null)}>
          close
        </button>
      </div>
      <p className="small muted">
        {study.deck.cards.length} directions of {atlas.layer.name}, {study.deck.key.some((k) => k.kind === 'latent') ? 'neurons, SAE latents and random directions' : 'half of them neurons and half random'}, in a
        shuffled order. Tick those whose top inputs share something you could name.
      </p>
      <div className="row">
        {featureVisualisation && images.state === 'idle' && images.urls.length === 0 && (
          <button
            type="button"
            data-testid="study-featurevis"
            onClick={() => {
              setImages({ state: 'pending', urls: [] });
              directions?.studyImages().then(
                // The body is keyed by its deck, so a late answer for another deck lands on an unmounted body.
                (urls) => setImages({ state: 'idle', urls }),
                (e: Error) => setImages({ state: 'error', urls: [], message: e.message }),
              );
            }}
          >
            Show feature visualisations
          </button>
        )}
        {images.state === 'pending' && <span className="small muted">Visualising {study.deck.cards.length} directions…</span>}
        {images.state === 'error' && <span className="small error">{images.message}</span>}
        <button type="button" data-testid="study-reveal" disabled={reveal !== null} onClick={() => directions?.revealStudy()}>
          Reveal
        </button>
      </div>
      {reveal && (
        <p className="study-result" data-testid="study-result">
          Marked interpretable: neurons {reveal.neuron.interpretable}/{reveal.neuron.total} ({(100 * reveal.neuron.rate).toFixed(0)}%), random directions{' '}
          {reveal.random.interpretable}/{reveal.random.total} ({(100 * reveal.random.rate).toFixed(0)}%)
          {reveal.latent ? `, SAE latents ${reveal.latent.interpretable}/${reveal.latent.total} (${(100 * reveal.latent.rate).toFixed(0)}%)` : ''}. Fisher's exact test of neurons
          against random directions, two-sided: p = {reveal.fisher.p.toFixed(3)}, odds ratio {Number.isFinite(reveal.fisher.oddsRatio) ? reveal.fisher.oddsRatio.toFixed(2) : '∞'}.
        </p>
      )}
      <div className="study-cards">
        {study.deck.cards.map((card, c) => {
          const key = study.deck.key[c];
          return (
            <div key={card.id} className={`study-card${reveal ? ` ${key.kind}` : ''}`} data-testid="study-card">
              <label className="check small">
                <input type="checkbox" data-testid="study-mark" checked={study.marks[c]} disabled={reveal !== null} onChange={(e) => mark(c, e.target.checked)} />
                {reveal ? `${key.kind} #${key.index}` : `direction ${card.id}`}
              </label>
              {images.urls[c] && <img src={images.urls[c]} alt="" width={64} height={64} className="concept-image" />}
              <div className={topList.className}>
                {Array.from(card.top.subarray(0, SHOWN), (row) => (
                  <span key={row}>
                    <InputView atlas={atlas} point={asTop(atlas, row)} direction={cardDirections[c]} />
                  </span>
                ))}
              </div>
            </div>
          );
        })}
      </div>
    </div>
  );
}
