/** The direction to steer along, as the panel's boxes hold it: a concept by id, or a neuron, latent or random seed by number. */
export type SteerDirection = { kind: 'concept'; id: string } | { kind: 'neuron' | 'latent' | 'random'; index: string };

/** The steering form as typed: the app checks every field and says what is wrong. */
export interface SteerForm {
  layer: string;
  direction: SteerDirection;
  /** In units of the layer's typical activation along the direction. */
  alpha: string;
  prompt: string;
  tokens: string;
  seed: string;
  /** 0: greedy. */
  temperature: string;
}

/**
 * What the Interventions panel asks of the app (its `InterventionController`). A run reports through the store's
 * `steering` (tokens as they stream, then the result); a refused or failed request through `steerProblem`.
 */
export interface InterventionTasks {
  steer(form: SteerForm): Promise<void>;
  /** Stops the run under way; what it streamed stays. */
  cancel(): void;
}
