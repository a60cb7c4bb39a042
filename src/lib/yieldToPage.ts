/** Lets the browser paint and handle input between chunks of main-thread work. */
export function yieldToPage(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

/**
 * A main-thread work loop's pause: each call returns at once until `budgetMs` of work has passed since the
 * last pause, then checks `signal` and lets the page paint and take input. Slices by time, not by count, so
 * a loop stays responsive however slow each step is on this machine.
 */
export function timeSlicer(budgetMs = 16): (signal?: AbortSignal) => Promise<void> | undefined {
  let since = performance.now();
  return (signal) => {
    if (performance.now() - since < budgetMs) return undefined;
    signal?.throwIfAborted();
    return yieldToPage().then(() => {
      since = performance.now();
    });
  };
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
