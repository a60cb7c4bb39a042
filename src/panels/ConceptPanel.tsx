import { useCallback, useMemo, useState } from 'react';
import type { Atlas } from '../compute/atlas';
import type { CavMethod } from '../compute/directions/cav';
import type { Concept } from '../compute/directions/concept';
import type { TopInput } from '../compute/types';
import { iconCanvas } from '../app/featureVisJobs';
import { parseTokenList, type DirectionsController } from '../app/directions';
import { pickedFromInput, type PickedFile } from '../lib/inputFiles';
import { rendererFor } from '../renderers';
import { DirectionOutputsView } from '../renderers/text';
import { useAtlasStore } from '../store';
import { TcavChart } from './TcavChart';
import { useRequest } from './useRequest';

const ENDS_SHOWN = 8;

/**
 * Concept vectors (CAVs): from the selection or from a folder of inputs, against the rest of the atlas or a
 * folder of counterexamples; the active one colours the atlas, lists inputs at both of its ends, shows what it
 * looks like (images) or writes (text), and is tested with TCAV. Below, the class filter.
 */
export function ConceptPanel({ directions, live }: { directions: DirectionsController | null; live: boolean }) {
  const atlas = useAtlasStore((s) => s.atlas);
  const concepts = useAtlasStore((s) => s.concepts);
  const activeId = useAtlasStore((s) => s.activeConcept);
  const setActive = useAtlasStore((s) => s.setActiveConcept);
  const removeConcept = useAtlasStore((s) => s.removeConcept);
  const selection = useAtlasStore((s) => s.selection);
  const busy = useAtlasStore((s) => s.directionsTask?.status === 'running');
  const [name, setName] = useState('');
  const [method, setMethod] = useState<CavMethod>('difference-of-means');
  const [positives, setPositives] = useState<PickedFile[]>([]);
  const [negatives, setNegatives] = useState<PickedFile[]>([]);
  if (!atlas) return null;
  const active = concepts.find((c) => c.id === activeId) ?? null;
  const learn = (source: Parameters<DirectionsController['createConcept']>[0]) => {
    void directions?.createConcept(source, name, method).then((c) => c && setName(''));
  };

  return (
    <section className="panel" data-testid="concept-panel">
      <h2>Concepts</h2>
      {!live && <p className="muted small">Learning a concept reads the activations of an atlas built in this session; this one was opened from a file.</p>}
      <div className="row">
        <input data-testid="concept-name" placeholder="name" value={name} onChange={(e) => setName(e.target.value)} />
        <select data-testid="concept-method" value={method} onChange={(e) => setMethod(e.target.value as CavMethod)} title="How the direction is found">
          <option value="difference-of-means">difference of means</option>
          <option value="logistic">logistic regression</option>
        </select>
      </div>
      <button type="button" data-testid="concept-from-selection" disabled={!live || busy || selection.length === 0} onClick={() => learn({ kind: 'selection' })}>
        From the selection ({selection.length} points)
      </button>
      <details>
        <summary className="small">From a folder of {atlas.modality === 'text' ? 'texts' : 'images'}</summary>
        <label className="small">
          Concept examples
          <input type="file" data-testid="concept-folder" ref={(el) => el?.setAttribute('webkitdirectory', '')} multiple onChange={(e) => setPositives(pickedFromInput(e.target.files))} />
        </label>
        <label className="small">
          Counterexamples (empty: the rest of the atlas)
          <input type="file" data-testid="concept-negatives" ref={(el) => el?.setAttribute('webkitdirectory', '')} multiple onChange={(e) => setNegatives(pickedFromInput(e.target.files))} />
        </label>
        <button
          type="button"
          data-testid="concept-from-folder"
          disabled={!live || busy || positives.length === 0}
          onClick={() => learn({ kind: 'inputs', positives, negatives: negatives.length ? negatives : null })}
        >
          Learn from {positives.length} file(s)
        </button>
      </details>
      <TaskLine directions={directions} />
      {concepts.length > 0 && (
        <ul className="concept-list">
          {concepts.map((c) => (
            <li key={c.id}>
              <button type="button" className={c.id === activeId ? 'link active' : 'link'} data-testid="concept-item" onClick={() => setActive(c.id)}>
                {c.name}
              </button>{' '}
              <span className="muted small">{c.accuracy === null ? '' : `acc ${c.accuracy.toFixed(2)}`}</span>{' '}
              <button type="button" className="link small" title="Remove" onClick={() => (directions ? directions.removeConcept(c.id) : removeConcept(c.id))}>
                ×
              </button>
            </li>
          ))}
        </ul>
      )}
      {active && <ConceptDetails atlas={atlas} concept={active} directions={directions} live={live} />}
      <ClassFilter atlas={atlas} directions={directions} live={live} />
    </section>
  );
}

function ConceptDetails({ atlas, concept, directions, live }: { atlas: Atlas; concept: Concept; directions: DirectionsController | null; live: boolean }) {
  const colourBy = useAtlasStore((s) => s.colourBy);
  const setColourBy = useAtlasStore((s) => s.setColourBy);
  const tcav = useAtlasStore((s) => s.tcav);
  const busy = useAtlasStore((s) => s.directionsTask?.status === 'running');
  const [classes, setClasses] = useState('');
  const colouring = colourBy.kind === 'concept' && colourBy.id === concept.id;
  // The ends are inputs of the atlas on screen: a rebuild that keeps the concept ranks again.
  const rank = useCallback((c: Concept) => directions!.rankAlong(c, ENDS_SHOWN), [directions, atlas]);
  const ends = useRequest(live && directions ? concept : null, live && directions ? rank : null);
  const image = useCallback(
    async (c: Concept) => {
      const icon = await directions!.conceptImage(c);
      return iconCanvas(icon).toDataURL('image/png');
    },
    [directions],
  );
  const picture = useRequest(live && directions && atlas.modality === 'image' ? concept : null, live && directions ? image : null);
  const classNames = atlas.model.classNames;
  const runTcav = () => {
    if (!directions) return;
    if (atlas.modality === 'text') void directions.runTcav(concept.id, parseTokenList(classes));
    else {
      const items = classes.split(',').map((k) => k.trim()).filter((k) => k !== '');
      const given = items.length === 0 || (items.length === 1 && items[0] === 'auto') ? 'auto' : items.map(Number);
      void directions.runTcav(concept.id, given);
    }
  };

  return (
    <div className="concept-details" data-testid="concept-details">
      <p className="small">
        <strong>{concept.name}</strong>: {concept.source}; {concept.method === 'logistic' ? 'logistic regression' : 'difference of means'}.{' '}
        <span data-testid="concept-accuracy">
          {concept.accuracy === null ? 'Too few examples to measure held-out accuracy.' : `Held-out accuracy ${concept.accuracy.toFixed(3)} (${concept.folds}-fold).`}
        </span>
      </p>
      <label className="small check">
        <input type="checkbox" data-testid="concept-colour" checked={colouring} onChange={(e) => setColourBy(e.target.checked ? { kind: 'concept', id: concept.id } : { kind: 'none' })} />
        Colour the atlas by each cell's mean score (orange: high, blue: low)
      </label>
      {atlas.modality === 'image' && picture.kind === 'done' && (
        <p className="small">
          <img src={picture.result} alt={`feature visualisation of ${concept.name}`} className="concept-image" data-testid="concept-featurevis" width={96} height={96} />
        </p>
      )}
      {atlas.modality === 'image' && picture.kind === 'pending' && <p className="muted small">Visualising the concept…</p>}
      {picture.kind === 'error' && <p className="muted small">No feature visualisation: {picture.message}</p>}
      {atlas.modality === 'text' && <DirectionOutputsView direction={concept.direction} />}
      {ends.kind === 'done' && (
        <>
          <EndList atlas={atlas} title="Highest along it" testId="concept-top" points={ends.result.top} direction={concept.direction} />
          <EndList atlas={atlas} title="Lowest along it" testId="concept-bottom" points={ends.result.bottom} direction={concept.direction} />
        </>
      )}
      {ends.kind === 'error' && <p className="error small">{ends.message}</p>}
      <h3>TCAV</h3>
      {atlas.modality === 'image' && !classNames ? (
        <p className="muted small">This model has no class output to test.</p>
      ) : (
        <form
          className="row"
          onSubmit={(e) => {
            e.preventDefault();
            runTcav();
          }}
        >
          <input
            data-testid="tcav-classes"
            value={classes}
            onChange={(e) => setClasses(e.target.value)}
            placeholder={atlas.modality === 'text' ? 'next tokens: whale, sea' : 'classes: auto or 0,3,7'}
            title={
              atlas.modality === 'text'
                ? 'Next tokens, comma-separated; each is a word after a space (" whale"); "quoted" for an exact token.'
                : 'auto: the 3 classes the model predicts most often here; or class indices.'
            }
          />
          <button type="submit" data-testid="tcav-run" disabled={!live || busy}>
            Test
          </button>
        </form>
      )}
      {tcav?.conceptId === concept.id && tcav.classes.length > 0 && <TcavChart tcav={tcav} accuracy={concept.accuracy} />}
    </div>
  );
}

/** The running direction task (with its progress and a cancel) or the last one's failure. */
export function TaskLine({ directions }: { directions: DirectionsController | null }) {
  const task = useAtlasStore((s) => s.directionsTask);
  if (!task) return null;
  return (
    <p className={task.status === 'error' ? 'error small' : 'muted small'} data-testid="directions-task">
      {task.message}{' '}
      {task.status === 'running' && (
        <button type="button" className="link" data-testid="directions-cancel" onClick={() => directions?.cancel()}>
          cancel
        </button>
      )}
    </p>
  );
}

/** The inputs at one end of a concept. */
function EndList({ atlas, title, testId, points, direction }: { atlas: Atlas; title: string; testId: string; points: TopInput[]; direction: Float32Array }) {
  const { InputView, topList } = rendererFor(atlas);
  return (
    <>
      <h3>{title}</h3>
      <div className={topList.className} data-testid={testId}>
        {points.map((p) => (
          <span key={p.row} title={`${atlas.inputs.names[p.input]} · ${p.score.toFixed(2)}`}>
            <InputView atlas={atlas} point={p} direction={direction} />
          </span>
        ))}
      </div>
    </>
  );
}

/** The Activation Atlas's class filter: tint each cell by its members' attribution (activation x gradient) to a class's logit. */
function ClassFilter({ atlas, directions, live }: { atlas: Atlas; directions: DirectionsController | null; live: boolean }) {
  const colourBy = useAtlasStore((s) => s.colourBy);
  const setColourBy = useAtlasStore((s) => s.setColourBy);
  const busy = useAtlasStore((s) => s.directionsTask?.status === 'running');
  const [target, setTarget] = useState('');
  const classNames = useMemo(() => atlas.model.classNames ?? [], [atlas]);
  const text = atlas.modality === 'text';
  if (!text && classNames.length === 0) return null;
  return (
    <div className="class-filter">
      <h3>Class filter</h3>
      <form
        className="row"
        onSubmit={(e) => {
          e.preventDefault();
          if (!directions || target === '') return;
          void directions.classFilter(text ? { kind: 'token', text: parseTokenList(target)[0] ?? target } : { kind: 'class', classIndex: Number(target) });
        }}
      >
        {text ? (
          <input data-testid="class-filter-target" value={target} onChange={(e) => setTarget(e.target.value)} placeholder="next token: whale" />
        ) : (
          <select data-testid="class-filter-target" value={target} onChange={(e) => setTarget(e.target.value)}>
            <option value="">class…</option>
            {classNames.map((n, k) => (
              <option key={k} value={k}>
                {n}
              </option>
            ))}
          </select>
        )}
        <button type="submit" data-testid="class-filter-run" disabled={!live || target === '' || busy}>
          Show
        </button>
      </form>
      {colourBy.kind === 'class' && (
        <p className="small">
          Cells tinted by attribution to <strong>{colourBy.target}</strong>: orange pushes its logit up, blue down.{' '}
          <button type="button" className="link" data-testid="colour-clear" onClick={() => setColourBy({ kind: 'none' })}>
            clear
          </button>
        </p>
      )}
    </div>
  );
}
