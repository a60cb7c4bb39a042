/** Lets the browser paint and handle input between chunks of main-thread work. */
export function yieldToPage(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}
