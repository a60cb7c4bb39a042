import type { Modality } from '../compute/atlas';
import { imageRenderer } from './image';
import type { ModalityRenderer } from './types';

/** The page's renderer for each modality an atlas can hold. */
export const renderers: Record<Modality, ModalityRenderer> = {
  image: imageRenderer,
};

export type { InputPreviews, ModalityRenderer } from './types';
