import type { ComponentType } from 'react';
import type { AtlasOf, Modality, ModalityModels } from '../compute/atlas';
import type { AtlasCell, TopInput } from '../compute/types';
import type { PickedFile } from '../lib/inputFiles';
import type { GradientTarget, InputSet } from '../workers/protocol';
import type { IconSource } from './iconSource';

/** What an atlas's inputs look like on the page once decoded (image bitmaps...); freed with `close`. */
export interface InputPreviews {
  /** How many previews were decoded, for the progress bar. */
  readonly count: number;
  close(): void;
}

/** What TCAV tests, as the user typed it: `auto` (the most predicted classes), class indices, or next tokens. */
export type TcavTargets = 'auto' | number[] | string[];

/** One TCAV test: a gradient target and the points (input, position; -1: pooled) whose gradients are tested. */
export interface TcavTest {
  target: GradientTarget;
  name: string;
  input: number[];
  position: number[];
}

/** Labels per point for Network Dissection's purity ('key': the recorded token), and what they are, in words. */
export interface PointLabels {
  labels: Int32Array | 'key' | null;
  described: string;
}

/** What the concept and neuron panels' tasks need to know of a modality: its examples, TCAV, the class filter. */
export interface ModalityDirections<M extends Modality> {
  /** What one recorded example of a concept is, in words ('input', 'token'). */
  exampleUnit: string;
  /** A concept's files as the model worker takes them, and the files skipped with the reason. */
  readExamples(files: PickedFile[]): Promise<{ inputs: InputSet; skipped: { file: PickedFile; reason: string }[] }>;
  /** Whether the model has outputs whose gradients TCAV and the class filter take (a classifier's classes, next tokens). */
  hasTargets(atlas: AtlasOf<M>): boolean;
  /** The TCAV field: its placeholder and tooltip, and what it reads as targets. */
  tcavField: { placeholder: string; title: string; parse(text: string): TcavTargets };
  /** TCAV's tests of the targets, each on the points that stand for it; throws with a message the task shows. */
  tcavTests(atlas: AtlasOf<M>, targets: TcavTargets): TcavTest[];
  /** The class filter's target picker; its value becomes a gradient target through `classTarget`. */
  ClassTargetField: ComponentType<{ atlas: AtlasOf<M>; value: string; onChange: (value: string) => void }>;
  classTarget(value: string): GradientTarget;
  /** The points the class filter attributes: all of them, or a seeded sample where each costs a backward pass of its own. */
  classFilterPoints(atlas: AtlasOf<M>): number[];
  /** Labels per point for Network Dissection's purity. */
  pointLabels(atlas: AtlasOf<M>): PointLabels;
}

/**
 * What differs between modalities on the page: how an atlas's inputs are previewed, how a cell's dataset
 * icon is drawn, how one recorded point appears in the inspector, what a direction can show (a feature
 * visualisation, the tokens it writes), and what the direction tasks test. Everything else (the view, the
 * grid, the store, the PNG export) works on any atlas without asking which modality it holds.
 */
export interface ModalityRenderer<M extends Modality = Modality> {
  /**
   * The inputs the modality's models take: their kind in an `InputSet`, what one is called ('image', 'text'), the
   * built-in model that takes them, and what the page tells a user who has given none, or inputs of the other kind.
   * Precomputed activations ('activations') have no model and no built-in one.
   */
  inputs: { kind: 'images' | 'text' | 'activations'; noun: string; builtInModel: 'default' | 'default-text' | null; ask: string; wrongKind: string };
  /**
   * Set where the modality's atlases have no model (precomputed activations): the tools that record inputs or take
   * gradients (concepts from files, TCAV, the class filter, polysemanticity) are off, and this says why.
   */
  withoutModel?: string;
  /** A loaded model in one line, for the model panel. */
  describeModel(model: ModalityModels[M]): string;
  /** How the inspector lists a cell's top points: heading, list class, and the test id of an entry. */
  topList: { title: string; className: 'top-inputs' | 'top-contexts'; testId: 'top-input' | 'top-context' };
  /** Decodes every input's preview; `onProgress` counts inputs. */
  loadPreviews(atlas: AtlasOf<M>, signal?: AbortSignal, onProgress?: (done: number) => void): Promise<InputPreviews>;
  /** Each cell's dataset icon, drawn from its exemplar. */
  exemplarIcons(atlas: AtlasOf<M>, previews: InputPreviews): IconSource;
  /**
   * Whether the model can draw a direction as an input it would respond to (feature visualisation by gradient
   * ascent on the input): cell icons, a concept's picture, the study's and the inspector's comparisons. Images
   * only: a text model's input is discrete tokens.
   */
  featureVisualisation: boolean;
  /** One recorded point of an input as the inspector shows it, its position marked. */
  InputView: ComponentType<{ atlas: AtlasOf<M>; point: TopInput; large?: boolean; direction?: Float32Array }>;
  /** What the inspector shows of a cell besides its top points, if the modality has more to say (text: what it writes to the output). */
  CellSection?: ComponentType<{ atlas: AtlasOf<M>; cell: AtlasCell }>;
  /** What a direction (a concept, a neuron) writes to the model's output, where there is an output to read it in (text: next-token logits). */
  DirectionOutputs?: ComponentType<{ direction: Float32Array }>;
  /** Where in its input a point was recorded, in words ('' when pooled). */
  describePosition(atlas: AtlasOf<M>, position: number): string;
  directions: ModalityDirections<M>;
}
