import type { CavMethod } from '../compute/directions/cav';
import type { Concept } from '../compute/directions/concept';
import type { TopInput } from '../compute/types';
import type { PickedFile } from '../lib/inputFiles';
import type { TcavTargets } from '../renderers';
import type { GradientTarget } from '../workers/protocol';

/** Where a concept's examples come from. */
export type ConceptExamplesSource =
  | { kind: 'selection' }
  | { kind: 'points'; points: number[]; description: string }
  | { kind: 'inputs'; positives: PickedFile[]; negatives: PickedFile[] | null };

/**
 * What the concept and neuron panels ask of the page's direction tasks (the app's `DirectionsController`). Each task
 * reports through the store's `directionsTask`; those that resolve to null failed or were cancelled, and say so there.
 */
export interface DirectionTasks {
  createConcept(source: ConceptExamplesSource, name: string, method: CavMethod): Promise<Concept | null>;
  removeConcept(id: string): void;
  /** The inputs at both ends of a concept. */
  rankAlong(concept: Concept, topK: number): Promise<{ top: TopInput[]; bottom: TopInput[] }>;
  /** The concept's feature visualisation, as a PNG data URL (where the renderer has `featureVisualisation`). */
  conceptImage(concept: Concept): Promise<string>;
  runTcav(conceptId: string, targets: TcavTargets): Promise<void | null>;
  classFilter(target: GradientTarget): Promise<void | null>;
  conceptFromCluster(neuron: number, cluster: number, method: CavMethod): Promise<Concept | null>;
  versusRandom(k: number, topN: number, latents?: boolean): Promise<void | null>;
  polysemanticity(threshold: number | null, minMembers: number): Promise<void | null>;
  startStudy(): void;
  revealStudy(): void;
  /** Feature visualisations of the study's cards, in card order, as PNG data URLs. */
  studyImages(): Promise<string[]>;
  /** Stops the running task; what was on screen stays. */
  cancel(): void;
}
