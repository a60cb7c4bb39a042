import { layoutAtlas, type Atlas, type AtlasParams, type RecordedColumns } from '../compute/atlas';
import { neuronProfile, type NeuronProfile } from '../compute/grid';
import type { ActivationTable } from '../compute/types';
import type { CallContext } from './rpc';

/** Projection and gridding, served by compute.worker.ts (and by a worker thread in the Node pipeline test). */
export function createComputeService() {
  /** The table of the last atlas built here: its rows are that atlas's points. */
  let table: ActivationTable | null = null;
  return {
    /** Projects the recorded activations and bins them into the atlas's grid levels; intermediate layouts go out as progress. */
    layoutAtlas(context: CallContext, recorded: RecordedColumns, params: AtlasParams): Promise<Atlas> {
      table = null;
      return layoutAtlas(recorded, params, (event) => context.progress(event), context.signal, (t) => (table = t));
    },

    /** One neuron of the last atlas's layer: its top points (indices into the atlas's points) and its histogram. */
    neuronProfile(_: CallContext, neuron: number, topK: number): NeuronProfile {
      if (!table) throw new Error('Build an atlas first: the neuron view reads the activations it recorded.');
      return neuronProfile(table, neuron, topK);
    },
  };
}

export type ComputeService = ReturnType<typeof createComputeService>;
