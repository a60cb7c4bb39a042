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
