import type { Atlas, Modality } from '../compute/atlas';
import { imageRenderer } from './image';
import { textRenderer } from './text';
import type { ModalityRenderer } from './types';

/** The page's renderer for each modality an atlas can hold. */
const renderers: { [M in Modality]: ModalityRenderer<M> } = {
  image: imageRenderer,
  text: textRenderer,
};

/** The renderer of an atlas's own modality. */
export function rendererFor(atlas: Atlas): ModalityRenderer {
  // Looked up by the atlas's own modality, so renderer and atlas always match.
  return renderers[atlas.modality] as unknown as ModalityRenderer;
}

export type { InputPreviews, ModalityRenderer } from './types';
