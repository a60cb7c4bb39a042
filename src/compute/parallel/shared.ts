/** Shared-memory helpers with no imports, so that kernels and their callers can use them without an import cycle. */

/** A typed array a kernel reads or writes; over a SharedArrayBuffer when the runner has threads. */
export type SharedArray = Float32Array | Float64Array | Int32Array | Uint32Array | Uint8Array | Uint16Array | Int16Array | Int8Array;

/**
 * What a kernel is given: typed arrays (shared memory, so a worker's writes are seen by the caller without a
 * copy back) and plain numbers, strings or booleans, nested in plain objects. It crosses to the workers by
 * structured clone: a SharedArrayBuffer is shared, anything else is copied per call.
 */
export interface SharedInputs {
  [key: string]: SharedArray | number | string | boolean | null | SharedInputs;
}

/** [start, end) of each of `parts` contiguous ranges covering [0, total), the first ones one longer where it does not divide. */
export function splitRange(total: number, parts: number): [number, number][] {
  const count = Math.max(1, Math.min(Math.floor(parts), total));
  const base = Math.floor(total / count);
  const extra = total - base * count;
  const ranges: [number, number][] = [];
  let start = 0;
  for (let r = 0; r < count; r++) {
    const end = start + base + (r < extra ? 1 : 0);
    ranges.push([start, end]);
    start = end;
  }
  return ranges;
}

/** Whether this context can share memory with workers: SharedArrayBuffer exists (a page needs cross-origin isolation). */
export function canShareMemory(): boolean {
  if (typeof SharedArrayBuffer === 'undefined') return false;
  const isolated = (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated;
  return isolated !== false;
}

export type ArrayType<T extends SharedArray> = { new (buffer: ArrayBufferLike, byteOffset?: number, length?: number): T; BYTES_PER_ELEMENT: number };

/** A zeroed array of `length` over shared memory when `shared` (and the context allows it), an ordinary one otherwise. */
export function allocate<T extends SharedArray>(type: ArrayType<T>, length: number, shared: boolean): T {
  const bytes = length * type.BYTES_PER_ELEMENT;
  const buffer = shared && canShareMemory() ? new SharedArrayBuffer(bytes) : new ArrayBuffer(bytes);
  return new type(buffer, 0, length);
}

