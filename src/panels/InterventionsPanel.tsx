import { useState } from 'react';
import type { VersusRandom } from '../compute/directions/stats';
import { useAtlasStore, type AblationRun, type ClassRun, type SteeringRun } from '../store';
import type { AblationMode, SteerPromptResult, SteerToken } from '../workers/protocol';
import type { InterventionDirection, InterventionTasks } from './interventionTasks';

const change = (v: number) => `${v > 0 ? '+' : ''}${v.toExponential(1)}`;
/** Why a continuation stopped before its length. */
const STOPS: Record<Exclude<SteerPromptResult['steered']['stop'], 'length'>, string> = { 'end-of-text': 'ended (<|endoftext|>)', context: "stopped: the model's context is full" };

/**
 * Interventions on the atlas's model along a direction v at a layer (a concept, a neuron, an SAE latent, or a random
 * direction as control): steer a GPT-2's continuation of a prompt by adding α·v (the unsteered and steered
 * continuations, same seed, stream side by side, then the measured change of the next-token distribution over
 * held-out contexts of the atlas's texts), or ablate v and test the rise in loss against random ablations.
 */
export function InterventionsPanel({ interventions, live }: { interventions: InterventionTasks | null; live: boolean }) {
  const atlas = useAtlasStore((s) => s.atlas);
  const layers = useAtlasStore((s) => s.model?.layers);
  const concepts = useAtlasStore((s) => s.concepts);
  const sae = useAtlasStore((s) => s.saeSummary);
  const steering = useAtlasStore((s) => s.steering);
  const ablation = useAtlasStore((s) => s.ablation);
  const problem = useAtlasStore((s) => s.interventionProblem);
  const wait = useAtlasStore((s) => s.interventionWait);
  const [layer, setLayer] = useState<string | null>(null);
  const [kind, setKind] = useState<InterventionDirection['kind']>('concept');
  const [conceptId, setConceptId] = useState<string | null>(null);
  const [index, setIndex] = useState('0');
  const [words, setWords] = useState('');
  const [seed, setSeed] = useState('0');
  const [alpha, setAlpha] = useState('4');
  const [prompt, setPrompt] = useState('');
  const [tokens, setTokens] = useState('30');
  const [temperature, setTemperature] = useState('0');
  const [watch, setWatch] = useState('');
  const [mode, setMode] = useState<AblationMode>('project');
  const [contexts, setContexts] = useState('16');
  const [ablateWatch, setAblateWatch] = useState('');
  const [ablateTexts, setAblateTexts] = useState('');
  const classRun = useAtlasStore((s) => s.classRun);
  const classNames = useAtlasStore((s) => (s.model?.modality === 'image' ? s.model.classNames : null));
  const [classIndex, setClassIndex] = useState('0');
  if (!atlas) return null;
  if (atlas.modality === 'precomputed') return null;
  const text = atlas.modality === 'text';
  const running = [steering, ablation, classRun].some((run) => run?.end === 'running');
  // What was picked for an earlier atlas, model or SAE falls back to what this one offers: the form sends what it shows.
  const chosenLayer = layer !== null && layers?.some((l) => l.name === layer) ? layer : atlas.layer.name;
  const chosenKind = (kind === 'concept' && concepts.length === 0) || (kind === 'latent' && !sae) || (kind === 'words' && !text) ? 'neuron' : kind;
  const concept = concepts.find((c) => c.id === conceptId) ?? concepts[concepts.length - 1];
  const direction: InterventionDirection =
    chosenKind === 'concept' ? { kind: 'concept', id: concept?.id ?? '' } : chosenKind === 'words' ? { kind: 'words', words } : { kind: chosenKind, index };
  const about = { layer: chosenLayer, direction, seed, classIndex };

  return (
    <section className="panel" data-testid="interventions-panel">
      <h2>Interventions</h2>
      <p className="muted small">
        {text
          ? 'Change the model along a direction at a layer, at every position: steer its continuation of a prompt, or ablate the direction and measure the loss.'
          : "Change the model along a direction at a layer, at every position: steer it, or ablate the direction, and see a class's probability and accuracy move over held-out images of the atlas, against 20 random directions."}
      </p>
      {!live && <p className="muted small">Interventions run the model of an atlas built in this session.</p>}
      <div className="steer-form small">
        <div className="row">
          <select value={chosenKind} onChange={(e) => setKind(e.target.value as InterventionDirection['kind'])} data-testid="steer-kind" title="The direction v">
            {concepts.length > 0 && <option value="concept">concept</option>}
            <option value="neuron">neuron</option>
            {sae && <option value="latent">SAE latent</option>}
            <option value="random">random (seed)</option>
            {text && <option value="words">words</option>}
          </select>
          {chosenKind === 'concept' ? (
            <select value={direction.kind === 'concept' ? direction.id : ''} onChange={(e) => setConceptId(e.target.value)} data-testid="steer-concept">
              {concepts.map((c) => (
                <option key={c.id} value={c.id}>
                  {c.name} ({c.layer})
                </option>
              ))}
            </select>
          ) : chosenKind === 'words' ? (
            <input
              value={words}
              onChange={(e) => setWords(e.target.value)}
              placeholder="sea, ship"
              data-testid="steer-words"
              title="What the logits read as these words (one token each), at a residual layer: h.I or h.I.attn"
            />
          ) : (
            <input className="narrow" value={index} onChange={(e) => setIndex(e.target.value)} data-testid="steer-index" title={chosenKind === 'random' ? 'seed' : 'index'} />
          )}
          <label title="The layer the intervention changes">
            at{' '}
            <select value={chosenLayer} onChange={(e) => setLayer(e.target.value)} data-testid="steer-layer">
              {(layers ?? []).map((l) => (
                <option key={l.name} value={l.name}>
                  {l.name}
                </option>
              ))}
            </select>
          </label>
          <label title="Seeds the sampling and the random controls">
            seed <input className="narrow" value={seed} onChange={(e) => setSeed(e.target.value)} data-testid="steer-seed" />
          </label>
          {!text && (
            <label title="The class the intervention is measured on">
              class{' '}
              <select value={classIndex} onChange={(e) => setClassIndex(e.target.value)} data-testid="steer-class">
                {(classNames ?? []).map((name, k) => (
                  <option key={name} value={String(k)}>
                    {name}
                  </option>
                ))}
              </select>
            </label>
          )}
        </div>
      </div>
      <h3>Steer</h3>
      <form
        className="steer-form small"
        onSubmit={(e) => {
          e.preventDefault();
          void interventions?.steer({ ...about, alpha, prompt, tokens, temperature, watch });
        }}
      >
        {text && <textarea rows={3} placeholder="a prompt to continue" value={prompt} onChange={(e) => setPrompt(e.target.value)} data-testid="steer-prompt" />}
        <div className="row">
          <label title="In units of the layer's typical activation along v">
            α <input className="narrow" value={alpha} onChange={(e) => setAlpha(e.target.value)} data-testid="steer-alpha" />
          </label>
          {text && (
            <>
              <label>
                tokens <input className="narrow" value={tokens} onChange={(e) => setTokens(e.target.value)} data-testid="steer-tokens" />
              </label>
              <label title="0: greedy">
                temp. <input className="narrow" value={temperature} onChange={(e) => setTemperature(e.target.value)} data-testid="steer-temperature" />
              </label>
            </>
          )}
          <button type="submit" disabled={!live} data-testid="steer-run">
            Steer
          </button>
        </div>
        {text && (
          <label className="row" title="Words of one token each, comma-separated: their probability over the held-out contexts is tested against random directions of the same α">
            watch <input value={watch} placeholder="e.g. sea, ship, boat (optional)" onChange={(e) => setWatch(e.target.value)} data-testid="steer-watch" />
          </label>
        )}
      </form>
      <h3>Ablate</h3>
      <form
        className="steer-form small"
        onSubmit={(e) => {
          e.preventDefault();
          void interventions?.ablate({ ...about, mode, contexts, watch: ablateWatch, texts: ablateTexts });
        }}
      >
        <div className="row">
          <select value={mode} onChange={(e) => setMode(e.target.value as AblationMode)} data-testid="ablate-mode">
            <option value="project">project out (x − (x·v)v)</option>
            <option value="zero">zero the neuron</option>
            <option value="mean">set to its mean (x − (x·v − m)v)</option>
          </select>
          {text && (
            <label title="How many pieces of the atlas's texts the loss is measured on">
              contexts <input className="narrow" value={contexts} onChange={(e) => setContexts(e.target.value)} data-testid="ablate-contexts" />
            </label>
          )}
          <button type="submit" disabled={!live} data-testid="ablate-run">
            Ablate
          </button>
        </div>
        {text && (
          <label className="row" title="Words of one token each, comma-separated: only their predictions are scored, for the direction and the random ablations alike">
            only <input value={ablateWatch} placeholder="e.g. sea, ship, boat (optional: every token)" onChange={(e) => setAblateWatch(e.target.value)} data-testid="ablate-watch" />
          </label>
        )}
        {text && (
          <textarea
            rows={2}
            value={ablateTexts}
            placeholder="Texts to measure the loss on, one per paragraph (optional: the atlas's own texts)"
            onChange={(e) => setAblateTexts(e.target.value)}
            data-testid="ablate-texts"
          />
        )}
      </form>
      <div className="row small">
        {running && (
          <button type="button" onClick={() => interventions?.cancel()} data-testid="steer-cancel">
            Cancel
          </button>
        )}
        {running && wait && <span className="muted">{wait}</span>}
      </div>
      {problem && (
        <p className="error small" data-testid="steer-problem">
          {problem}
        </p>
      )}
      {text && steering && <SteeringView run={steering} />}
      {text && ablation && <AblationView run={ablation} />}
      {!text && classRun && <ClassRunView run={classRun} classNames={classNames ?? []} />}
    </section>
  );
}

/** The ablation's rise in loss against the random ablations': the test the issue asks for, as TCAV does it. */
function AblationView({ run }: { run: AblationRun }) {
  const r = run.result;
  return (
    <div className="small" data-testid="ablate-result" data-end={run.end}>
      <p>
        {ablationWords[run.mode](`${run.direction} at ${run.layer}`)}
        {run.end === 'running' ? `: ${Math.round(100 * run.fraction)}%…` : run.end === 'cancelled' ? ': cancelled' : run.end === 'failed' ? ': failed' : ''}
      </p>
      {r && (
        <p>
          Loss over {r.windows} contexts of {run.texts ? 'your texts' : "the atlas's texts"} ({r.predictions} predictions{run.watch ? ` of ${run.watch.join(', ')}` : ''}): {r.clean.toFixed(4)} → {r.ablated.toFixed(4)} nats, {change(r.increase.value)}; {r.increase.randomValues.length}{' '}
          {r.controls} ablated the same way: {change(r.increase.randomMean)} ± {r.increase.randomStd.toExponential(1)}. Larger than random: t {r.increase.t.toFixed(2)}, one-sided p{' '}
          {r.increase.pT.toPrecision(2)} (rank p {r.increase.pRank.toFixed(3)}).
        </p>
      )}
    </div>
  );
}

/** What an ablation did to `what` (a direction at a layer), in words. */
const ablationWords: Record<AblationMode, (what: string) => string> = {
  project: (what) => `Projecting out ${what}`,
  zero: (what) => `Zeroing ${what}`,
  mean: (what) => `Setting ${what} to its mean`,
};

const pText = (v: VersusRandom) => `t ${v.t.toFixed(2)}, one-sided p ${v.pT.toPrecision(2)} (rank p ${v.pRank.toFixed(3)})`;
const percent = (v: number) => `${(100 * v).toFixed(1)}%`;

/** An image model's class moved by steering or by an ablation, against the random controls': the causal counterpart of TCAV. */
function ClassRunView({ run, classNames }: { run: ClassRun; classNames: string[] }) {
  const r = run.result;
  const name = (k: number) => classNames[k] ?? String(k);
  return (
    <div className="small" data-testid="class-result" data-end={run.end}>
      <p>
        {run.kind === 'steer' ? `Steering along ${run.direction} at ${run.layer}, α ${run.alpha}` : ablationWords[run.mode!](`${run.direction} at ${run.layer}`)}, measured on {run.className}
        {run.end === 'running' ? `: ${Math.round(100 * run.fraction)}%…` : run.end === 'cancelled' ? ': cancelled' : run.end === 'failed' ? ': failed' : ''}
      </p>
      {r?.kind === 'steer' && (
        <>
          <p>
            P({run.className}) over {r.test.images} held-out images: {percent(r.test.clean)} → {percent(r.test.steered)}; {r.test.random} random directions of the same α:{' '}
            {change(r.test.rise.randomMean)} ± {r.test.rise.randomStd.toExponential(1)}. Larger than random: {pText(r.test.rise)}.
          </p>
          <p>
            Classes moved most:{' '}
            {r.test.classChanges
              .map((c, k) => [c, k] as const)
              .sort((a, b) => Math.abs(b[0]) - Math.abs(a[0]))
              .slice(0, 4)
              .map(([c, k]) => `${name(k)} ${change(c)}`)
              .join(', ')}
          </p>
        </>
      )}
      {r?.kind === 'ablate' && (
        <p>
          Accuracy on {r.test.images} held-out {run.className} images: {percent(r.test.accuracy.clean)} → {percent(r.test.accuracy.ablated)}; the drop against {r.test.random}{' '}
          {r.test.controls}: {pText(r.test.accuracyDrop)}. P({run.className}): {percent(r.test.probability.clean)} → {percent(r.test.probability.ablated)}, {pText(r.test.probabilityDrop)}.
        </p>
      )}
    </div>
  );
}

function SteeringView({ run }: { run: SteeringRun }) {
  const held = run.result?.heldOut;
  const test = run.result?.significance;
  const side = (name: SteerToken['side'], title: string) => (
    <div className="steer-side">
      <div className="small muted">
        {title}
        {run.result && run.result[name].stop !== 'length' ? `: ${STOPS[run.result[name].stop]}` : ''}
      </div>
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
      {run.end === 'running' && run.testFraction !== null && (
        <p className="small muted">Testing the watched words against random directions: {Math.round(100 * run.testFraction)}% of the held-out contexts…</p>
      )}
      {test && (
        <p className="small" data-testid="steer-significance">
          P({test.tokens.map((t) => JSON.stringify(t.text)).join(', ')}) over the held-out positions: {test.clean.toExponential(2)} → {test.steered.toExponential(2)}, a rise of{' '}
          {change(test.rise.value)} against {test.random} random directions of the same α: {change(test.rise.randomMean)} ± {test.rise.randomStd.toExponential(1)}. Larger than random:{' '}
          {pText(test.rise)}.
        </p>
      )}
    </div>
  );
}
