/**
 * How rows are named and ordered across processes. A row is (input ordinal, position): the ordinal places an
 * input among all the inputs of a recording, whichever shard or batch it came through (an image's index in the
 * whole sorted folder; a text window's document index and window number), so every exact result below is a
 * function of the set of rows, not of the order they arrived in.
 */

/** Windows one document may give before ordinals of consecutive documents would collide. */
export const WINDOWS_PER_DOCUMENT = 2 ** 20;

/** The ordinal of window `window` of document `document`. */
export const windowOrdinal = (document: number, window: number): number => document * WINDOWS_PER_DOCUMENT + window;

/** The MurmurHash3 finaliser: a 32-bit mix in which every input bit reaches every output bit. */
function mix32(h: number): number {
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** A 32-bit hash of a seed and a list of numbers (each taken as up to 53 bits). */
function hashNumbers(seed: number, values: readonly number[]): number {
  let h = mix32((seed ^ 0x9e3779b9) >>> 0);
  for (const value of values) {
    const low = value >>> 0;
    const high = Math.floor(value / 4294967296) >>> 0;
    h = mix32((h ^ low) + 0x7feb352d);
    h = mix32((h ^ high) + 0x846ca68b);
  }
  return h;
}

/**
 * A row's priority for the seeded sample: a 53-bit number that depends only on the seed, the input's ordinal
 * and the position, so the rows with the smallest keys are the same whatever the batch size or shard count.
 */
export function rowKey(seed: number, ordinal: number, position: number): number {
  const a = hashNumbers(seed, [ordinal, position + 1]);
  const b = hashNumbers(seed ^ 0x5bd1e995, [ordinal, position + 1]);
  return a * 2097152 + (b >>> 11);
}

/** A stable 32-bit hash of a string (FNV-1a over its UTF-16 units, then mixed): which shard an input belongs to. */
export function stringHash(text: string): number {
  let h = 0x811c9dc5;
  for (let k = 0; k < text.length; k++) h = Math.imul(h ^ text.charCodeAt(k), 0x01000193);
  return mix32(h >>> 0);
}

/** The shard (of `count`) that an input named `name` belongs to: adding shards never depends on other inputs. */
export const shardOf = (name: string, count: number): number => stringHash(name) % count;
