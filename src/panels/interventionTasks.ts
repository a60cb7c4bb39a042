import type { AblationMode } from '../workers/protocol';

/** The direction to intervene along, as the panel's boxes hold it: a concept by id, or a neuron, latent or random seed by number. */
export type InterventionDirection = { kind: 'concept'; id: string } | { kind: 'neuron' | 'latent' | 'random'; index: string } | { kind: 'words'; words: string };

/** What every intervention is about, as typed: the layer and the direction. The app checks every field and says what is wrong. */
export interface InterventionForm {
  layer: string;
  direction: InterventionDirection;
  /** An image model's class the intervention is measured on (its index); unused for a GPT-2. */
  classIndex: string;
  /** Seeds the sampling (steering) and the random controls (ablation). */
  seed: string;
}

/** The steering form: α in units of the layer's typical activation along the direction; for a GPT-2, the prompt and how to decode it. */
export interface SteerForm extends InterventionForm {
  alpha: string;
  prompt: string;
  tokens: string;
  /** 0: greedy. */
  temperature: string;
  /** Words (comma-separated, one token each) whose probability over held-out contexts is tested against random directions; blank: no test. */
  watch: string;
}

/** The ablation form: how to ablate, and (GPT-2) over how many of the atlas's contexts the loss is measured. */
export interface AblateForm extends InterventionForm {
  mode: AblationMode;
  contexts: string;
  /** Words (comma-separated, one token each) whose predictions alone are scored; blank: every prediction. */
  watch: string;
  /** Text to measure the loss on, a document per blank-line-separated paragraph; blank or absent: the atlas's own texts. */
  texts?: string;
}

/**
 * What the Interventions panel asks of the app (its `InterventionController`). A run reports through the store's
 * `steering` or `ablation`; a refused or failed request through `interventionProblem`.
 */
export interface InterventionTasks {
  steer(form: SteerForm): Promise<void>;
  ablate(form: AblateForm): Promise<void>;
  /** Stops the run under way; what it showed stays. */
  cancel(): void;
}
