/** The chunks one after another in one new array; `length` is their total, when the caller has counted it. */
export function concatBytes(chunks: readonly Uint8Array[], length = chunks.reduce((n, chunk) => n + chunk.byteLength, 0)): Uint8Array {
  const out = new Uint8Array(length);
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.byteLength;
  }
  return out;
}
