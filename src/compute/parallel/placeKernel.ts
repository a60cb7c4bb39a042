import { Placer, type FittedLayout } from '../transform';

/**
 * A batch of rows to place into a fitted layout, as the 'layout-place' kernel reads it. `fitted` lies in shared
 * memory (see shareTree) so that it crosses to the threads without a copy; `fitId` names it, so each thread
 * builds its Placer (search scratch sized to the fit) once per fit rather than once per batch.
 */
export interface PlaceInput {
  fitted: FittedLayout;
  /** Unique per fit within the calling thread. */
  fitId: number;
  /** count x d rows in the fit's search space. */
  rows: Float32Array;
  /** Each row's global number, which seeds its random stream. */
  numbers: Int32Array;
  /** Out: count x 2 places. */
  out: Float32Array;
}

let current: { fitId: number; placer: Placer } | null = null;

/** Places rows [start, end) of a batch: the lead's Placer, one per thread and fit; each row on its own random stream. */
export function placeRange(input: PlaceInput, start: number, end: number): void {
  if (current?.fitId !== input.fitId) current = { fitId: input.fitId, placer: new Placer(input.fitted) };
  current.placer.place(input.rows, input.numbers, input.out, start, end);
}
