/** The error a cancelled operation rejects with, recognisable by name in any realm. */
export function abortError(message = 'Cancelled'): Error {
  if (typeof DOMException !== 'undefined') return new DOMException(message, 'AbortError');
  const e = new Error(message);
  e.name = 'AbortError';
  return e;
}

export const isAbortError = (e: unknown): boolean => (e as { name?: string } | null)?.name === 'AbortError';
