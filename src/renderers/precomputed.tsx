import type { AtlasOf } from '../compute/atlas';
import type { TopInput } from '../compute/types';
import { decodeThumbnails, ThumbnailBitmaps } from './thumbnails';
import type { ModalityDirections, ModalityRenderer } from './types';

/** Why the tools that need a model are off for an atlas of precomputed activations. */
export const WITHOUT_MODEL =
  'This atlas was built from precomputed activations, without a model: concepts from files, TCAV, the class filter and polysemanticity need the model that made them.';

/** Characters of a row's text shown in a list, and enlarged. */
const TEXT_SHORT = 160;
const TEXT_LONG = 1200;

const clip = (text: string, max: number) => (text.length > max ? `${text.slice(0, max - 1)}…` : text);

/** A row's label name, or null. */
function labelOf(atlas: AtlasOf<'precomputed'>, input: number): string | null {
  const l = atlas.inputs.label[input];
  return l >= 0 ? (atlas.labelNames[l] ?? null) : null;
}

/** A row of the activation file as its points table describes it: its image, label and text. */
function PrecomputedInput({ atlas, point, large }: { atlas: AtlasOf<'precomputed'>; point: TopInput; large?: boolean }) {
  const image = atlas.inputs.images?.[point.input] ?? null;
  const text = atlas.inputs.texts?.[point.input] ?? null;
  const label = labelOf(atlas, point.input);
  return (
    <span className="precomputed-input" data-testid="precomputed-row" style={{ display: 'flex', gap: 6, alignItems: 'flex-start', textAlign: 'left' }}>
      {image && (
        <span className="input-image thumb" style={{ width: large ? 160 : 40, flex: 'none' }}>
          <img src={image} alt={label ?? `row ${point.input}`} draggable={false} />
        </span>
      )}
      <span className="token-context">
        {label && <strong data-testid="row-label">{label}</strong>}
        {label && text && ' · '}
        {text && <span data-testid="row-text">{clip(text, large ? TEXT_LONG : TEXT_SHORT)}</span>}
        {!label && !text && !image && <span className="muted">row {point.input}</span>}
      </span>
    </span>
  );
}

/** Words of `text` in lines no wider than `width` (at most `lines` of them, the last clipped). */
function wrap(ctx: CanvasRenderingContext2D | OffscreenCanvasRenderingContext2D, text: string, width: number, lines: number): string[] {
  const out: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/).filter(Boolean)) {
    const next = line ? `${line} ${word}` : word;
    if (ctx.measureText(next).width <= width || !line) line = next;
    else {
      out.push(line);
      line = word;
      if (out.length === lines) break;
    }
  }
  if (out.length < lines && line) out.push(line);
  if (out.length === lines && ctx.measureText(out[lines - 1]).width > width) out[lines - 1] = `${out[lines - 1].slice(0, Math.max(1, Math.floor(out[lines - 1].length * 0.8)))}…`;
  return out;
}

/** No model: nothing can be recorded or differentiated, so every task that would is refused with WITHOUT_MODEL. */
const precomputedDirections: ModalityDirections<'precomputed'> = {
  exampleUnit: 'row',
  readExamples: async () => {
    throw new Error(WITHOUT_MODEL);
  },
  hasTargets: () => false,
  tcavField: { placeholder: '', title: WITHOUT_MODEL, parse: () => 'auto' },
  tcavTests: () => {
    throw new Error(WITHOUT_MODEL);
  },
  ClassTargetField: () => null,
  classTarget: () => {
    throw new Error(WITHOUT_MODEL);
  },
  classFilterPoints: () => [],
  pointLabels(atlas) {
    if (!atlas.inputs.label.some((l) => l >= 0)) return { labels: null, described: 'none' };
    return { labels: Int32Array.from(atlas.points.input, (i) => atlas.inputs.label[i]), described: "the points table's labels" };
  },
};

/**
 * Precomputed activations: each row of the file is an input with one pooled point. A cell's icon is its exemplar
 * row's image where the points table gave one, else its most common label over the exemplar's text.
 */
export const precomputedRenderer: ModalityRenderer<'precomputed'> = {
  inputs: {
    kind: 'activations',
    noun: 'row',
    builtInModel: null,
    ask: 'Drop an .npy of activations with its points table (.parquet or .jsonl)',
    wrongKind: 'Precomputed activations are built without a model: drop the .npy with its points table.',
  },
  withoutModel: WITHOUT_MODEL,
  describeModel: (model) => `precomputed activations, ${model.rows.toLocaleString('en')} rows (${model.name})`,
  topList: { title: 'Top rows', className: 'top-contexts', testId: 'top-input' },

  async loadPreviews(atlas, signal, onProgress) {
    const images = atlas.inputs.images;
    if (!images) {
      onProgress?.(atlas.inputs.names.length);
      return new ThumbnailBitmaps([]);
    }
    return new ThumbnailBitmaps(await decodeThumbnails(images.map((url) => url ?? ''), signal, onProgress));
  },

  exemplarIcons(atlas, previews) {
    const { bitmaps } = previews as ThumbnailBitmaps;
    return {
      draw(ctx, cell, _gridSize, x, y, size) {
        const row = cell.exemplar.input;
        const image = bitmaps[row];
        if (image) {
          ctx.imageSmoothingEnabled = true;
          ctx.imageSmoothingQuality = 'high';
          ctx.drawImage(image, x, y, size, size);
          return;
        }
        ctx.fillStyle = '#1d232c';
        ctx.fillRect(x, y, size, size);
        ctx.textAlign = 'center';
        ctx.textBaseline = 'middle';
        const label = cell.labels.length ? atlas.labelNames[cell.labels[0][0]] : null;
        const text = atlas.inputs.texts?.[row] ?? null;
        const heading = label ?? (text ? null : `#${row}`);
        let cursor = y + size * (text && heading ? 0.28 : 0.5);
        if (heading) {
          let px = Math.max(6, Math.floor(size * 0.3));
          ctx.font = `600 ${px}px system-ui, sans-serif`;
          const width = ctx.measureText(heading).width;
          if (width > size * 0.92) {
            px = Math.max(6, Math.floor((px * size * 0.92) / width));
            ctx.font = `600 ${px}px system-ui, sans-serif`;
          }
          ctx.fillStyle = '#f4f1e8';
          ctx.fillText(heading, x + size / 2, cursor);
          cursor += size * 0.24;
        }
        if (text) {
          const px = Math.max(5, Math.floor(size * 0.14));
          ctx.font = `400 ${px}px system-ui, sans-serif`;
          ctx.fillStyle = '#9aa6b2';
          const lines = wrap(ctx, text, size * 0.9, heading ? 3 : 5);
          if (!heading) cursor = y + size / 2 - ((lines.length - 1) * px * 1.2) / 2;
          for (const line of lines) {
            ctx.fillText(line, x + size / 2, cursor);
            cursor += px * 1.2;
          }
        }
      },
    };
  },

  featureVisualisation: false,
  InputView: PrecomputedInput,
  describePosition: () => '',
  directions: precomputedDirections,
};
