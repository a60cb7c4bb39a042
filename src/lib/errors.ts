/** An error's message, or the thrown value as text when it is not an Error. */
export const messageOf = (e: unknown): string => (e instanceof Error ? e.message : String(e));
