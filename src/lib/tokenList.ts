/** The items of a "next tokens" field: each a word that follows a space (" whale"), or a "quoted" exact token. */
export function parseTokenList(text: string): string[] {
  return text
    .split(',')
    .map((t) => t.trim())
    .filter((t) => t.length > 0)
    .map((t) => (/^".*"$/.test(t) ? t.slice(1, -1) : ` ${t}`));
}
