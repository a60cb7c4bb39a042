import { createContext } from 'react';
import type { NeuronProfile } from '../compute/grid';
import type { DirectionOutputs } from '../workers/protocol';

export type { DirectionOutputs, OutputToken } from '../workers/protocol';


/** What the inspector asks of the loaded model and the last build, beyond the atlas itself. */
export interface InspectorServices {
  /** Each token's activation along `direction` at the atlas's layer, for the given documents (token ids). */
  tokenActivations(direction: Float32Array, documents: number[][]): Promise<Float32Array[]>;
  directionOutputs(direction: Float32Array): Promise<DirectionOutputs>;
  /** One neuron of the last built atlas: top points (indices into the atlas's points) and histogram. */
  neuronProfile(neuron: number): Promise<NeuronProfile>;
}

/** Null where the atlas was opened from a file without its model, or nothing can be asked. */
export const InspectorServicesContext = createContext<InspectorServices | null>(null);
