import type { AtlasOf } from '../compute/atlas';
import { mostPredicted } from '../compute/directions/tcav';
import { range, samplePoints } from '../compute/directions/vectors';
import type { TopInput } from '../compute/types';
import { isImageFile } from '../lib/inputFiles';
import { gridPosition, patchRegion, positionRegion, toPixels } from './patch';
import { decodeThumbnails, ThumbnailBitmaps } from './thumbnails';
import type { ModalityDirections, ModalityRenderer } from './types';

/**
 * Patch width, in layer positions, cropped around the exemplar's position. Five is close to what a
 * mid-level conv layer sees (conv3 of the built-in model: 18 px of 28), and reads far better than three.
 */
export const PATCH_SPAN = 5;

/** TCAV's `auto`: the classes the model predicts most often among the atlas's inputs. */
const AUTO_CLASSES = 3;
/** Inputs per class whose gradients TCAV tests: enough for a stable fraction, quick on a CPU. */
const MAX_CLASS_INPUTS = 100;
const SEED = 0;

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

/** The class filter's target: one of the model's classes. */
function ClassSelect({ atlas, value, onChange }: { atlas: AtlasOf<'image'>; value: string; onChange: (value: string) => void }) {
  return (
    <select data-testid="class-filter-target" value={value} onChange={(e) => onChange(e.target.value)}>
      <option value="">class…</option>
      {(atlas.model.classNames ?? []).map((n, k) => (
        <option key={k} value={k}>
          {n}
        </option>
      ))}
    </select>
  );
}

/** An image classifier's direction tasks: examples are images, targets are classes, each tested on the inputs predicted as it. */
const imageDirections: ModalityDirections<'image'> = {
  exampleUnit: 'input',

  async readExamples(files) {
    const images = files.filter((p) => isImageFile(p.file));
    if (images.length === 0) throw new Error(`none of the ${files.length} file(s) is an image.`);
    return {
      inputs: { kind: 'images', images: images.map((p) => ({ name: p.path, label: null, blob: p.file })) },
      skipped: files.filter((p) => !images.includes(p)).map((file) => ({ file, reason: `Not an image (${file.file.type || 'unknown type'}); skipped.` })),
    };
  },

  hasTargets: (atlas) => (atlas.model.classNames?.length ?? 0) > 0,

  tcavField: {
    placeholder: 'classes: auto or 0,3,7',
    title: `auto: the ${AUTO_CLASSES} classes the model predicts most often here; or class indices.`,
    parse(text) {
      const items = text.split(',').map((k) => k.trim()).filter((k) => k !== '');
      return items.length === 0 || (items.length === 1 && items[0] === 'auto') ? 'auto' : items.map(Number);
    },
  },

  tcavTests(atlas, targets) {
    const names = atlas.model.classNames;
    if (!names) throw new Error('this model has no class output to test.');
    const given = targets === 'auto' ? null : [...new Set(targets as number[])];
    const bad = given?.find((k) => !Number.isInteger(k) || k < 0 || k >= names.length);
    if (bad !== undefined) throw new Error(`${bad} is not a class of this model (0 to ${names.length - 1}).`);
    const wanted = given ?? mostPredicted(atlas.inputs.predicted, AUTO_CLASSES);
    return wanted.map((k) => {
      const members = atlas.inputs.predicted.flatMap((c, i) => (c === k ? [i] : []));
      const input = samplePoints(members.length, MAX_CLASS_INPUTS, SEED).map((i) => members[i]);
      return { target: { kind: 'class', classIndex: k }, name: names[k] ?? `class ${k}`, input, position: input.map(() => -1) };
    });
  },

  ClassTargetField: ClassSelect,
  classTarget: (value) => ({ kind: 'class', classIndex: Number(value) }),
  classFilterPoints: (atlas) => Array.from(range(atlas.points.input.length)),

  pointLabels(atlas) {
    const truth = atlas.inputs.label.some((l) => l >= 0);
    const perInput = truth ? atlas.inputs.label : atlas.inputs.predicted;
    if (!perInput.some((l) => l >= 0)) return { labels: null, described: 'none' };
    return { labels: Int32Array.from(atlas.points.input, (i) => perInput[i]), described: truth ? 'true labels' : 'predicted classes' };
  },
};

/** Images: thumbnails of what the model saw, exemplar patches cropped around the recorded position. */
export const imageRenderer: ModalityRenderer<'image'> = {
  inputs: {
    kind: 'images',
    noun: 'image',
    builtInModel: 'default',
    ask: 'Drop images, or a folder with one sub-folder per label,',
    wrongKind: 'This is an image model: drop images.',
  },
  describeModel: (model) => `input ${model.inputHeight}×${model.inputWidth}×${model.inputChannels}`,
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

  featureVisualisation: true,
  InputView: ImageInput,

  describePosition(atlas, position) {
    if (position < 0) return '';
    const { x, y } = gridPosition(position, atlas.layer.positionShape);
    return x >= 0 ? `position (${x}, ${y})` : `position ${position}`;
  },

  directions: imageDirections,
};
