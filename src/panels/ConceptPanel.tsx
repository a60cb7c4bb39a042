import { useCallback, useState } from 'react';
import type { Atlas } from '../compute/atlas';
import type { CavMethod } from '../compute/directions/cav';
import type { Concept } from '../compute/directions/concept';
import type { TopInput } from '../compute/types';
import { pickedFromInput, type PickedFile } from '../lib/inputFiles';
import { useRequest } from '../lib/useRequest';
import { rendererFor } from '../renderers';
import { useAtlasStore } from '../store';
import type { DirectionTasks } from './directionTasks';
import { TcavChart } from './TcavChart';

const ENDS_SHOWN = 8;

/**
 * Concept vectors (CAVs): from the selection or from a folder of inputs, against the rest of the atlas or a
 * folder of counterexamples; the active one colours the atlas, lists inputs at both of its ends, shows what it
 * looks like (images) or writes (text), and is tested with TCAV. Below, the class filter.
 */
export function ConceptPanel({ directions, live }: { directions: DirectionTasks | null; live: boolean }) {
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
  const { withoutModel, inputs } = rendererFor(atlas);
  const active = concepts.find((c) => c.id === activeId) ?? null;
  const learn = (source: Parameters<DirectionTasks['createConcept']>[0]) => {
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
      {withoutModel ? (
        <p className="muted small" data-testid="without-model">
          {withoutModel}
        </p>
      ) : (
        <details>
          <summary className="small">From a folder of {inputs.noun}s</summary>
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
      )}
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

function ConceptDetails({ atlas, concept, directions, live }: { atlas: Atlas; concept: Concept; directions: DirectionTasks | null; live: boolean }) {
  const colourBy = useAtlasStore((s) => s.colourBy);
  const setColourBy = useAtlasStore((s) => s.setColourBy);
  const tcav = useAtlasStore((s) => s.tcav);
  const busy = useAtlasStore((s) => s.directionsTask?.status === 'running');
  const [classes, setClasses] = useState('');
  const colouring = colourBy.kind === 'concept' && colourBy.id === concept.id;
  // The ends are inputs of the atlas on screen: a rebuild that keeps the concept ranks again.
  const rank = useCallback((c: Concept) => directions!.rankAlong(c, ENDS_SHOWN), [directions, atlas]);
  const ends = useRequest(live && directions ? concept : null, live && directions ? rank : null);
  const { featureVisualisation, DirectionOutputs, directions: modality, withoutModel } = rendererFor(atlas);
  const image = useCallback((c: Concept) => directions!.conceptImage(c), [directions]);
  const picture = useRequest(live && directions && featureVisualisation ? concept : null, live && directions ? image : null);
  const runTcav = () => {
    if (directions) void directions.runTcav(concept.id, modality.tcavField.parse(classes));
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
      {picture.kind === 'done' && (
        <p className="small">
          <img src={picture.result} alt={`feature visualisation of ${concept.name}`} className="concept-image" data-testid="concept-featurevis" width={96} height={96} />
        </p>
      )}
      {picture.kind === 'pending' && <p className="muted small">Visualising the concept…</p>}
      {picture.kind === 'error' && <p className="muted small">No feature visualisation: {picture.message}</p>}
      {DirectionOutputs && <DirectionOutputs direction={concept.direction} />}
      {ends.kind === 'done' && (
        <>
          <EndList atlas={atlas} title="Highest along it" testId="concept-top" points={ends.result.top} direction={concept.direction} />
          <EndList atlas={atlas} title="Lowest along it" testId="concept-bottom" points={ends.result.bottom} direction={concept.direction} />
        </>
      )}
      {ends.kind === 'error' && <p className="error small">{ends.message}</p>}
      <h3>TCAV</h3>
      {!modality.hasTargets(atlas) ? (
        <p className="muted small">{withoutModel ? 'TCAV takes gradients of the model, and this atlas has none.' : 'This model has no class output to test.'}</p>
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
            placeholder={modality.tcavField.placeholder}
            title={modality.tcavField.title}
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
export function TaskLine({ directions }: { directions: DirectionTasks | null }) {
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
function ClassFilter({ atlas, directions, live }: { atlas: Atlas; directions: DirectionTasks | null; live: boolean }) {
  const colourBy = useAtlasStore((s) => s.colourBy);
  const setColourBy = useAtlasStore((s) => s.setColourBy);
  const busy = useAtlasStore((s) => s.directionsTask?.status === 'running');
  const [target, setTarget] = useState('');
  const { directions: modality } = rendererFor(atlas);
  if (!modality.hasTargets(atlas)) return null;
  return (
    <div className="class-filter">
      <h3>Class filter</h3>
      <form
        className="row"
        onSubmit={(e) => {
          e.preventDefault();
          if (!directions || target === '') return;
          void directions.classFilter(modality.classTarget(target));
        }}
      >
        <modality.ClassTargetField atlas={atlas} value={target} onChange={setTarget} />
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
