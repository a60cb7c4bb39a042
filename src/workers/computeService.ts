import { project } from '../compute/projection';
import type { ProgressEvent, ProjectionOptions } from '../compute/types';
import { assembleAtlas, type RecordedColumns } from '../compute/atlas';
import type { Atlas, AtlasModelInfo, AtlasParams } from '../export/atlasFile';
import type { CallContext } from './rpc';

/** Projection and gridding, served by compute.worker.ts and called directly in Node tests. */
export const computeService = {
  /** Projects the recorded activations and bins them into the atlas's grid levels. */
  async buildAtlas(
    context: CallContext,
    recorded: RecordedColumns,
    model: AtlasModelInfo,
    params: AtlasParams,
    thumbnails: string[],
  ): Promise<Atlas> {
    const { table } = recorded;
    const options: ProjectionOptions = { method: params.method, metric: params.metric, pcaDims: params.pcaDims, seed: params.seed };
    const layout = await project(
      table.values,
      table.count,
      table.dim,
      options,
      // Intermediate layouts go out too (a few a second), so the page can show the layout settling.
      (done, total, layout) => context.progress({ stage: 'project', done, total, ...(layout ? { layout } : {}) }),
      context.signal,
    );
    context.progress({ stage: 'grid', done: 0, total: 1 } satisfies ProgressEvent);
    const atlas = assembleAtlas(recorded, layout, model, params, thumbnails);
    context.progress({ stage: 'grid', done: 1, total: 1 } satisfies ProgressEvent);
    return atlas;
  },
};

export type ComputeService = typeof computeService;
