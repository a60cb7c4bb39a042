import { layoutAtlas, type Atlas, type AtlasParams, type RecordedColumns } from '../compute/atlas';
import type { CallContext } from './rpc';

/** Projection and gridding, served by compute.worker.ts (and by a worker thread in the Node pipeline test). */
export const computeService = {
  /** Projects the recorded activations and bins them into the atlas's grid levels; intermediate layouts go out as progress. */
  layoutAtlas(context: CallContext, recorded: RecordedColumns, params: AtlasParams): Promise<Atlas> {
    return layoutAtlas(recorded, params, (event) => context.progress(event), context.signal);
  },
};

export type ComputeService = typeof computeService;
