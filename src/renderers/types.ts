import type { ComponentType } from 'react';
import type { AtlasOf, Modality } from '../compute/atlas';
import type { AtlasCell, TopInput } from '../compute/types';
import type { IconSource } from '../atlas/iconSource';

/** What an atlas's inputs look like on the page once decoded (image bitmaps...); freed with `close`. */
export interface InputPreviews {
  /** How many previews were decoded, for the progress bar. */
  readonly count: number;
  close(): void;
}

/**
 * What differs between modalities on the page: how an atlas's inputs are previewed, how a cell's dataset
 * icon is drawn, and how one recorded point appears in the inspector. Everything else (the view, the
 * grid, the store, the PNG export) works on any atlas without asking which modality it holds.
 */
export interface ModalityRenderer<M extends Modality = Modality> {
  /** How the inspector lists a cell's top points: heading, list class, and the test id of an entry. */
  topList: { title: string; className: 'top-inputs' | 'top-contexts'; testId: 'top-input' | 'top-context' };
  /** Decodes every input's preview; `onProgress` counts inputs. */
  loadPreviews(atlas: AtlasOf<M>, signal?: AbortSignal, onProgress?: (done: number) => void): Promise<InputPreviews>;
  /** Each cell's dataset icon, drawn from its exemplar. */
  exemplarIcons(atlas: AtlasOf<M>, previews: InputPreviews): IconSource;
  /** One recorded point of an input as the inspector shows it, its position marked. */
  InputView: ComponentType<{ atlas: AtlasOf<M>; point: TopInput; large?: boolean; direction?: Float32Array }>;
  /** What the inspector shows of a cell besides its top points, if the modality has more to say (text: what it writes to the output). */
  CellSection?: ComponentType<{ atlas: AtlasOf<M>; cell: AtlasCell }>;
  /** Where in its input a point was recorded, in words ('' when pooled). */
  describePosition(atlas: AtlasOf<M>, position: number): string;
}
