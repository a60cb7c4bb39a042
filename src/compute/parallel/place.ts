import type { LayoutFit, PlaceRows } from '../scaleLayout';
import type { FittedLayout } from '../transform';
import { placeRange } from './placeKernel';
import { allocate, shareTree, shareWith, type RangeRunner } from './runner';

let fits = 0;

/**
 * Places batches through a range runner ('layout-place'): the fit is copied into shared memory once, each batch's
 * rows and numbers once per batch, and the places come back through one shared buffer. Every row is placed on
 * its own random stream, so the layout is the same for any thread count.
 */
export function placeOnRunner(runner: RangeRunner): PlaceRows {
  let shared: { fit: LayoutFit; fitted: FittedLayout; fitId: number } | null = null;
  let out = new Float32Array(0);
  return async (fit, rows, count, numbers, into) => {
    if (shared?.fit !== fit) shared = { fit, fitted: shareTree(runner, fit.fitted), fitId: ++fits };
    if (runner.threads <= 1) {
      placeRange({ fitted: fit.fitted, fitId: shared.fitId, rows, numbers, out: into }, 0, count);
      return;
    }
    if (out.length < 2 * count) out = allocate(Float32Array, 2 * count, runner.sharesMemory);
    const d = fit.fitted.index.d;
    const input = { fitted: shared.fitted, fitId: shared.fitId, rows: shareWith(runner, rows.subarray(0, count * d)), numbers: shareWith(runner, numbers.subarray(0, count)), out };
    await runner.run('layout-place', input, count);
    into.set(out.subarray(0, 2 * count));
  };
}
