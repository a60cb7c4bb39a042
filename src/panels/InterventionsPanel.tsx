import { useState } from 'react';
import { useAtlasStore, type SteeringRun } from '../store';
import type { InterventionTasks, SteerDirection } from './interventionTasks';

const change = (v: number) => `${v > 0 ? '+' : ''}${v.toExponential(1)}`;

/**
 * Interventions on the atlas's model: steer a GPT-2's continuation of a prompt by adding α·v at a layer, v a
 * concept, a neuron, an SAE latent or a random direction as control; the unsteered and steered continuations (same
 * seed) stream side by side, and the steering's measured change of the next-token distribution over held-out
 * contexts of the atlas's texts follows.
 */
export function InterventionsPanel({ interventions, live }: { interventions: InterventionTasks | null; live: boolean }) {
  const atlas = useAtlasStore((s) => s.atlas);
  const layers = useAtlasStore((s) => s.model?.layers);
  const concepts = useAtlasStore((s) => s.concepts);
  const sae = useAtlasStore((s) => s.saeSummary);
  const steering = useAtlasStore((s) => s.steering);
  const problem = useAtlasStore((s) => s.steerProblem);
  const wait = useAtlasStore((s) => s.steerWait);
  const [layer, setLayer] = useState<string | null>(null);
  const [kind, setKind] = useState<SteerDirection['kind']>('concept');
  const [conceptId, setConceptId] = useState<string | null>(null);
  const [index, setIndex] = useState('0');
  const [alpha, setAlpha] = useState('4');
  const [prompt, setPrompt] = useState('');
  const [tokens, setTokens] = useState('30');
  const [seed, setSeed] = useState('0');
  const [temperature, setTemperature] = useState('0');
  if (!atlas) return null;
  if (atlas.modality !== 'text') {
    return (
      <section className="panel" data-testid="interventions-panel">
        <h2>Interventions</h2>
        <p className="muted small">
          Steering in the page continues text with a GPT-2. For an image model, <code>npm run steer -- --images</code> and <code>npm run ablate -- --images</code> move its
          classes.
        </p>
      </section>
    );
  }
  const running = steering?.end === 'running';
  const chosenLayer = layer ?? atlas.layer.name;
  const chosenKind = kind === 'concept' && concepts.length === 0 ? 'neuron' : kind;
  const direction: SteerDirection = chosenKind === 'concept' ? { kind: 'concept', id: conceptId ?? concepts[concepts.length - 1]?.id ?? '' } : { kind: chosenKind, index };

  return (
    <section className="panel" data-testid="interventions-panel">
      <h2>Interventions</h2>
      <p className="muted small">Steer the model's continuation of a prompt: α·v is added at the layer, at every position, α in units of the layer's typical activation along v.</p>
      {!live && <p className="muted small">Steering runs the model of an atlas built in this session.</p>}
      <form
        className="steer-form small"
        onSubmit={(e) => {
          e.preventDefault();
          void interventions?.steer({ layer: chosenLayer, direction, alpha, prompt, tokens, seed, temperature });
        }}
      >
        <textarea rows={3} placeholder="a prompt to continue" value={prompt} onChange={(e) => setPrompt(e.target.value)} data-testid="steer-prompt" />
        <div className="row">
          <select value={chosenKind} onChange={(e) => setKind(e.target.value as SteerDirection['kind'])} data-testid="steer-kind" title="The direction v">
            {concepts.length > 0 && <option value="concept">concept</option>}
            <option value="neuron">neuron</option>
            {sae && <option value="latent">SAE latent</option>}
            <option value="random">random (seed)</option>
          </select>
          {chosenKind === 'concept' ? (
            <select value={direction.kind === 'concept' ? direction.id : ''} onChange={(e) => setConceptId(e.target.value)} data-testid="steer-concept">
              {concepts.map((c) => (
                <option key={c.id} value={c.id}>
                  {c.name} ({c.layer})
                </option>
              ))}
            </select>
          ) : (
            <input className="narrow" value={index} onChange={(e) => setIndex(e.target.value)} data-testid="steer-index" title={chosenKind === 'random' ? 'seed' : 'index'} />
          )}
          <label title="The layer α·v is added at">
            at{' '}
            <select value={chosenLayer} onChange={(e) => setLayer(e.target.value)} data-testid="steer-layer">
              {(layers ?? []).map((l) => (
                <option key={l.name} value={l.name}>
                  {l.name}
                </option>
              ))}
            </select>
          </label>
        </div>
        <div className="row">
          <label>
            α <input className="narrow" value={alpha} onChange={(e) => setAlpha(e.target.value)} data-testid="steer-alpha" />
          </label>
          <label>
            tokens <input className="narrow" value={tokens} onChange={(e) => setTokens(e.target.value)} data-testid="steer-tokens" />
          </label>
          <label title="0: greedy">
            temp. <input className="narrow" value={temperature} onChange={(e) => setTemperature(e.target.value)} data-testid="steer-temperature" />
          </label>
          <label>
            seed <input className="narrow" value={seed} onChange={(e) => setSeed(e.target.value)} data-testid="steer-seed" />
          </label>
        </div>
        <div className="row">
          <button type="submit" disabled={!live} data-testid="steer-run">
            Steer
          </button>
          {running && (
            <button type="button" onClick={() => interventions?.cancel()} data-testid="steer-cancel">
              Cancel
            </button>
          )}
          {running && wait && <span className="muted">{wait}</span>}
        </div>
      </form>
      {problem && (
        <p className="error small" data-testid="steer-problem">
          {problem}
        </p>
      )}
      {steering && <SteeringView run={steering} />}
    </section>
  );
}

function SteeringView({ run }: { run: SteeringRun }) {
  const held = run.result?.heldOut;
  const side = (name: 'unsteered' | 'steered', title: string) => (
    <div className="steer-side">
      <div className="small muted">{title}</div>
      <p className="steer-text" data-testid={`steer-${name}`}>
        <span className="muted">{run.prompt}</span>
        {run.result ? run.result[name].text : run.tokens[name].join('')}
      </p>
    </div>
  );
  return (
    <div data-testid="steer-result" data-end={run.end}>
      <p className="small">
        {run.direction} at {run.layer}, α {run.alpha}
        {run.result ? ` (${run.result.scale.toPrecision(3)} a unit)` : ''}
        {run.end === 'cancelled' ? ': cancelled' : run.end === 'failed' ? ': failed' : ''}
      </p>
      <div className="steer-sides">
        {side('unsteered', 'unsteered')}
        {side('steered', `steered, α ${run.alpha}`)}
      </div>
      {held && (
        <div className="small" data-testid="steer-heldout">
          <p>
            Over {held.contexts} held-out contexts of the atlas's texts ({held.positions} positions): KL(clean ‖ steered) {held.klMean.toExponential(2)} nats a token.
          </p>
          <p>
            Raised most: {held.promoted.slice(0, 6).map((t) => `${JSON.stringify(t.text)} ${change(t.change)}`).join(', ')}
            <br />
            Lowered most: {held.suppressed.slice(0, 6).map((t) => `${JSON.stringify(t.text)} ${change(t.change)}`).join(', ')}
          </p>
        </div>
      )}
    </div>
  );
}
