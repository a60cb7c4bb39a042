import { gridPosition, patchRegion, positionRegion, toPixels } from '../atlas/patch';
import { decodeThumbnails } from '../atlas/thumbnails';
import type { AtlasOf } from '../compute/atlas';
import type { TopInput } from '../compute/types';
import type { InputPreviews, ModalityRenderer } from './types';

/**
 * Patch width, in layer positions, cropped around the exemplar's position. Five is close to what a
 * mid-level conv layer sees (conv3 of the built-in model: 18 px of 28), and reads far better than three.
 */
export const PATCH_SPAN = 5;

class ThumbnailBitmaps implements InputPreviews {
  constructor(readonly bitmaps: (ImageBitmap | null)[]) {}
  get count(): number {
    return this.bitmaps.length;
  }
  close(): void {
    for (const b of this.bitmaps) b?.close();
  }
}

/** An input thumbnail with the region the point's activation looked at outlined. */
function ImageInput({ atlas, point, large }: { atlas: AtlasOf<'image'>; point: TopInput; large?: boolean }) {
  const { x, y, gridWidth, gridHeight } = gridPosition(point.position, atlas.layer.positionShape);
  const r = positionRegion(x, y, gridWidth, gridHeight);
  const small = atlas.model.inputWidth <= 48;
  return (
    <span className={`input-image ${large ? 'large' : 'thumb'}`}>
      <img src={atlas.inputs.thumbnails[point.input]} alt={atlas.inputs.names[point.input]} className={small ? 'pixelated' : ''} draggable={false} />
      {x >= 0 && (
        <span className="region" style={{ left: `${100 * r.x}%`, top: `${100 * r.y}%`, width: `${100 * r.width}%`, height: `${100 * r.height}%` }} />
      )}
    </span>
  );
}

/** Images: thumbnails of what the model saw, exemplar patches cropped around the recorded position. */
export const imageRenderer: ModalityRenderer<'image'> = {
  topList: { title: 'Top inputs', className: 'top-inputs', testId: 'top-input' },

  async loadPreviews(atlas, signal, onProgress) {
    return new ThumbnailBitmaps(await decodeThumbnails(atlas.inputs.thumbnails, signal, onProgress));
  },

  exemplarIcons(atlas, previews) {
    const { bitmaps } = previews as ThumbnailBitmaps;
    return {
      draw(ctx, cell, _gridSize, x, y, size) {
        const image = bitmaps[cell.exemplar.input];
        if (!image) {
          ctx.fillStyle = '#333';
          ctx.fillRect(x, y, size, size);
          return;
        }
        const p = gridPosition(cell.exemplar.position, atlas.layer.positionShape);
        const r = toPixels(patchRegion(p.x, p.y, p.gridWidth, p.gridHeight, PATCH_SPAN), image.width, image.height);
        ctx.imageSmoothingEnabled = true;
        ctx.imageSmoothingQuality = 'high';
        ctx.drawImage(image, r.x, r.y, r.width, r.height, x, y, size, size);
      },
    };
  },

  InputView: ImageInput,

  describePosition(atlas, position) {
    if (position < 0) return '';
    const { x, y } = gridPosition(position, atlas.layer.positionShape);
    return x >= 0 ? `position (${x}, ${y})` : `position ${position}`;
  },
};
