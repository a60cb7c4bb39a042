import { abortError } from './abort';

/** Lets the browser paint and handle input between chunks of main-thread work. */
export function yieldToPage(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

/**
 * Waits one macrotask without a timer (timers in a background worker may be throttled to far more than 0 ms):
 * messages queued meanwhile, such as a cancel, are handled first.
 */
export function nextTask(): Promise<void> {
  if (typeof MessageChannel === 'undefined') return yieldToPage();
  return new Promise((resolve) => {
    const { port1, port2 } = new MessageChannel();
    port1.onmessage = () => {
      port1.close();
      resolve();
    };
    port2.postMessage(null);
  });
}

/** Work between pauses in a page loop: short enough that a frame or a click is never kept waiting long. */
export const PAGE_SLICE_MS = 16;

/** What a paced task takes: a signal that stops it at its next pause, and its progress as units done of all. */
export interface PacedOptions {
  signal?: AbortSignal;
  onProgress?: (done: number, total: number) => void;
}

/** Paces a long loop: says when ~sliceMs of work has passed, then yields a macrotask and honours the abort signal. */
export interface Pacer {
  due(): boolean;
  pause(): Promise<void>;
  /** Throws the AbortError now if the signal has aborted. */
  check(): void;
}

/**
 * A pacer for the given signal. In a worker, the macrotask yield lets the message handler deliver a cancel
 * (pass `nextTask`, which no timer throttling delays); on the page, `yieldToPage` lets the browser paint and
 * take input. Slices go by time, not by count, so a loop stays responsive however slow each step is.
 */
export function createPacer(signal?: AbortSignal, sliceMs = 50, what = 'Cancelled', yieldTask: () => Promise<void> = yieldToPage): Pacer {
  let last = performance.now();
  const check = () => {
    if (signal?.aborted) throw abortError(what);
  };
  check();
  return {
    due: () => performance.now() - last >= sliceMs,
    pause: async () => {
      await yieldTask();
      last = performance.now();
      check();
    },
    check,
  };
}
