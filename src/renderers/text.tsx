import type { AtlasOf } from '../compute/atlas';
import type { TopInput } from '../compute/types';
import type { InputPreviews, ModalityRenderer } from './types';

/** Tokens shown on each side of the recorded one in a context. */
const CONTEXT = 8;
const CONTEXT_LARGE = 32;

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

function TextInput({ atlas, point, large, shade }: { atlas: AtlasOf<'text'>; point: TopInput; large?: boolean; shade?: ArrayLike<number> }) {
  const tokens = atlas.inputs.tokens[point.input];
  if (point.position < 0) return <span className="token-context">{tokens.slice(1).join('').slice(0, large ? 600 : 160)}</span>;
  return <TokenContext tokens={tokens} at={point.position} radius={large ? CONTEXT_LARGE : CONTEXT} shade={shade} />;
}

/** Text: a cell's icon is its most typical tokens; an input is shown as the context around its recorded token. */
export const textRenderer: ModalityRenderer<'text'> = {
  topTestId: 'top-context',

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

  InputView: TextInput,

  describePosition(atlas, position) {
    return position < 0 ? '' : `token ${position}`;
  },
};
