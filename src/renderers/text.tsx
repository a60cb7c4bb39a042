import { useCallback, useContext } from 'react';
import type { AtlasOf } from '../compute/atlas';
import { samplePoints } from '../compute/directions/vectors';
import type { AtlasCell, TopInput } from '../compute/types';
import { readTextFiles } from '../lib/inputFiles';
import { parseTokenList } from '../lib/tokenList';
import { useRequest } from '../lib/useRequest';
import { InspectorServicesContext, type OutputToken } from './inspectorServices';
import type { InputPreviews, ModalityDirections, ModalityRenderer } from './types';

/** Tokens shown on each side of the recorded one in a context. */
const CONTEXT = 8;
const CONTEXT_LARGE = 32;
/** GPT-2 has a gradient per token position: TCAV tests a seeded sample of the atlas's points for each next token. */
const MAX_TCAV_POINTS = 200;
/** The class filter's seeded sample of points. */
const MAX_FILTER_POINTS = 600;
const SEED = 0;

/** A token as it reads on screen: leading spaces kept as a thin gap, newlines and tabs made visible. */
export function displayToken(text: string): string {
  const shown = text.replace(/\n/g, '↵').replace(/\t/g, '⇥');
  return shown.trim() === '' ? `·${shown.length > 1 ? shown.length : ''}` : shown;
}

class TokenTexts implements InputPreviews {
  /** The text of each token id that occurs in the atlas. */
  readonly byId = new Map<number, string>();
  constructor(atlas: AtlasOf<'text'>) {
    atlas.inputs.tokenIds.forEach((ids, d) => ids.forEach((id, k) => this.byId.set(id, atlas.inputs.tokens[d][k])));
  }
  get count(): number {
    return this.byId.size;
  }
  close(): void {
    this.byId.clear();
  }
}

/** A window of tokens around the recorded one, which is marked; `shade` (one value per token of the document, 0..1) tints each token. */
export function TokenContext({ tokens, at, radius, shade }: { tokens: string[]; at: number; radius: number; shade?: ArrayLike<number> }) {
  const start = Math.max(1, at - radius);
  const end = Math.min(tokens.length, at + radius + 1);
  return (
    <span className="token-context">
      {start > 1 && <span className="muted">…</span>}
      {tokens.slice(start, end).map((t, k) => {
        const index = start + k;
        const s = shade?.[index] ?? 0;
        return (
          <span
            key={index}
            className={index === at ? 'token recorded' : 'token'}
            data-testid={index === at ? 'context-token' : undefined}
            style={s > 0 ? { background: `rgba(255, 140, 0, ${Math.min(1, s).toFixed(2)})` } : undefined}
          >
            {t.replace(/\n/g, '↵')}
          </span>
        );
      })}
      {end < tokens.length && <span className="muted">…</span>}
    </span>
  );
}

/** Each token's activation along the direction as a shade in [0, 1]: negative is none, the document's largest is full. */
function shades(activations: Float32Array): Float32Array {
  let max = 0;
  for (let k = 1; k < activations.length; k++) max = Math.max(max, activations[k]);
  return activations.map((a, k) => (k === 0 || max <= 0 ? 0 : Math.max(0, a) / max));
}

/** A recorded token in its context; with the model at hand, every token is shaded by its activation along `direction`. */
function TextInput({ atlas, point, large, direction }: { atlas: AtlasOf<'text'>; point: TopInput; large?: boolean; direction?: Float32Array }) {
  const services = useContext(InspectorServicesContext);
  const tokens = atlas.inputs.tokens[point.input];
  const ids = atlas.inputs.tokenIds[point.input];
  const run = useCallback(
    async () => shades((await services!.tokenActivations(direction!, [ids]))[0]),
    [services, direction, ids],
  );
  const shade = useRequest(services && direction ? point.input : null, services && direction ? run : null);
  if (point.position < 0) return <span className="token-context">{tokens.slice(1).join('').slice(0, large ? 600 : 160)}</span>;
  return (
    <TokenContext tokens={tokens} at={point.position} radius={large ? CONTEXT_LARGE : CONTEXT} shade={shade.kind === 'done' ? shade.result : undefined} />
  );
}

function TokenList({ tokens, kind }: { tokens: OutputToken[]; kind: 'promoted' | 'suppressed' }) {
  return (
    <div className={`token-list ${kind}`} data-testid={`${kind}-tokens`}>
      {tokens.map((t) => (
        <span key={t.id} title={`logit ${t.logit.toFixed(2)}`}>
          {displayToken(t.text)}
        </span>
      ))}
    </div>
  );
}

/** What a direction writes to the next-token logits: its most promoted and suppressed tokens. */
function DirectionOutputsView({ direction }: { direction: Float32Array }) {
  const services = useContext(InspectorServicesContext);
  const run = useCallback((d: Float32Array) => services!.directionOutputs(d), [services]);
  const outputs = useRequest(services ? direction : null, services ? run : null);
  if (!services) return <p className="muted small">Load the atlas's model to see what this direction writes to the output.</p>;
  if (outputs.kind === 'error') return <p className="error small">{outputs.message}</p>;
  if (outputs.kind !== 'done') return <p className="muted small">Carrying the direction to the output…</p>;
  return (
    <>
      <p className="small">Promotes</p>
      <TokenList tokens={outputs.result.promoted} kind="promoted" />
      <p className="small">Suppresses</p>
      <TokenList tokens={outputs.result.suppressed} kind="suppressed" />
    </>
  );
}

function TextCellSection({ cell }: { atlas: AtlasOf<'text'>; cell: AtlasCell }) {
  return (
    <section data-testid="direction-outputs">
      <h3>What the cell's direction writes to the output</h3>
      <DirectionOutputsView direction={cell.mean} />
    </section>
  );
}

/** A seeded sample of the atlas's points, as (input, position) columns. */
function samplePointsOf(atlas: AtlasOf<'text'>, k: number): { input: number[]; position: number[] } {
  const points = samplePoints(atlas.points.input.length, k, SEED);
  return { input: points.map((p) => atlas.points.input[p]), position: points.map((p) => atlas.points.position[p]) };
}

/** A language model's direction tasks: examples are tokens of texts, targets are next tokens, tested at sampled token positions. */
const textDirections: ModalityDirections<'text'> = {
  exampleUnit: 'token',

  async readExamples(files) {
    // A few files at a time, as the input panel reads them; one that cannot be read is skipped with why.
    const { texts, failed } = await readTextFiles(files);
    const read = files.flatMap((p, k) => (texts[k] === null ? [] : [{ name: p.path, label: null, text: texts[k]! }]));
    const byPath = new Map(files.map((p) => [p.path, p]));
    return { inputs: { kind: 'text', texts: read }, skipped: failed.map((f) => ({ file: byPath.get(f.path)!, reason: f.reason })) };
  },

  hasTargets: () => true,

  tcavField: {
    placeholder: 'next tokens: whale, sea',
    title: 'Next tokens, comma-separated; each is a word after a space (" whale"); "quoted" for an exact token.',
    parse: parseTokenList,
  },

  tcavTests(atlas, targets) {
    const tokens = targets === 'auto' ? [] : [...new Set((targets as (string | number)[]).map(String))];
    if (tokens.length === 0) throw new Error('name the next token(s) to test, e.g. whale, sea.');
    const { input, position } = samplePointsOf(atlas, MAX_TCAV_POINTS);
    return tokens.map((text) => ({ target: { kind: 'token', text }, name: JSON.stringify(text), input, position }));
  },

  ClassTargetField: ({ value, onChange }) => (
    <input data-testid="class-filter-target" value={value} onChange={(e) => onChange(e.target.value)} placeholder="next token: whale" />
  ),
  classTarget: (value) => ({ kind: 'token', text: parseTokenList(value)[0] ?? value }),
  classFilterPoints: (atlas) => samplePoints(atlas.points.input.length, MAX_FILTER_POINTS, SEED),
  pointLabels: () => ({ labels: 'key', described: 'the recorded token' }),
};

/** Text: a cell's icon is its most typical tokens; an input is shown as the context around its recorded token. */
export const textRenderer: ModalityRenderer<'text'> = {
  inputs: {
    kind: 'text',
    noun: 'text',
    builtInModel: 'default-text',
    ask: 'Paste text or drop .txt / .jsonl files',
    wrongKind: 'This is a text model: paste text or drop text files.',
  },
  describeModel: (model) => `GPT-2, ${model.nLayer} layers, ${model.nEmbd}-d, context ${model.contextLength}`,
  topList: { title: 'Top contexts', className: 'top-contexts', testId: 'top-context' },

  async loadPreviews(atlas, _signal, onProgress) {
    const texts = new TokenTexts(atlas);
    onProgress?.(atlas.inputs.names.length);
    return texts;
  },

  exemplarIcons(atlas, previews) {
    const { byId } = previews as TokenTexts;
    return {
      draw(ctx, cell, _gridSize, x, y, size) {
        const { input, position } = cell.exemplar;
        const keys = cell.keys?.length ? cell.keys.map(([id]) => byId.get(id) ?? `#${id}`) : [atlas.inputs.tokens[input][Math.max(position, 0)]];
        ctx.fillStyle = '#1d232c';
        ctx.fillRect(x, y, size, size);
        ctx.textAlign = 'center';
        ctx.textBaseline = 'middle';
        // The most typical token large, the next two smaller beneath: readable at every zoom level.
        const lines = keys.slice(0, 3).map(displayToken);
        const heights = [0.42, 0.22, 0.22];
        let cursor = y + size * (lines.length === 1 ? 0.5 : 0.34);
        lines.forEach((line, k) => {
          let px = Math.max(6, Math.floor(size * heights[k]));
          ctx.font = `${k === 0 ? 600 : 400} ${px}px system-ui, sans-serif`;
          const width = ctx.measureText(line).width;
          if (width > size * 0.92) {
            px = Math.max(6, Math.floor((px * size * 0.92) / width));
            ctx.font = `${k === 0 ? 600 : 400} ${px}px system-ui, sans-serif`;
          }
          ctx.fillStyle = k === 0 ? '#f4f1e8' : '#9aa6b2';
          ctx.fillText(line, x + size / 2, cursor);
          cursor += size * (k === 0 ? 0.3 : 0.22);
        });
      },
    };
  },

  featureVisualisation: false,
  InputView: TextInput,
  CellSection: TextCellSection,
  DirectionOutputs: DirectionOutputsView,

  describePosition(atlas, position) {
    return position < 0 ? '' : `token ${position}`;
  },

  directions: textDirections,
};
