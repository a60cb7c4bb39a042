import type { Atlas, Modality } from '../compute/atlas';
import { imageRenderer } from './image';
import { precomputedRenderer } from './precomputed';
import { textRenderer } from './text';
import type { ModalityRenderer } from './types';

/** The page's renderer for each modality an atlas can hold. */
const renderers: { [M in Modality]: ModalityRenderer<M> } = {
  image: imageRenderer,
  text: textRenderer,
  precomputed: precomputedRenderer,
};

/** The renderer of a modality, for what exists before an atlas does (a loaded model). */
export function rendererOf(modality: Modality): ModalityRenderer {
  // The caller hands the renderer only things of this modality (the model it was looked up by).
  return renderers[modality] as unknown as ModalityRenderer;
}

/** The renderer of the modality whose models take inputs of this kind. */
export function rendererOfInputs(kind: 'images' | 'text' | 'activations'): ModalityRenderer {
  const modalities = Object.keys(renderers) as Modality[];
  return rendererOf(modalities.find((m) => renderers[m].inputs.kind === kind)!);
}

/** The renderer of an atlas's own modality. */
export function rendererFor(atlas: Atlas): ModalityRenderer {
  // Looked up by the atlas's own modality, so renderer and atlas always match.
  return rendererOf(atlas.modality);
}

export type { InputPreviews, ModalityRenderer, TcavTargets } from './types';
