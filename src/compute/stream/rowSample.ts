import { rowKey } from './rowOrder';

/** Rows the arrays hold at first; they double from there up to the capacity. */
const FIRST_ROWS = 1024;

/** A sample's rows as plain columns (what a shard stores and a merge reads). */
export interface RowSampleState {
  dim: number;
  capacity: number;
  /** Rows held (at most `capacity`). */
  size: number;
  key: Float64Array;
  ordinal: Float64Array;
  position: Int32Array;
  /** A per-row key that cells summarise (text: the token id); 0 where none. */
  tag: Int32Array;
  values: Float32Array;
}

/**
 * A seeded uniform sample of at most `capacity` rows out of a stream: the rows with the smallest `rowKey`
 * (bottom-k sampling). Unlike a reservoir that draws as rows arrive, which rows are kept depends only on the
 * seed and the set of rows, so any batch size, order or split into shards keeps the same ones, and two samples
 * merge exactly. Memory: up to capacity x (dim x 4 + 28) bytes, whatever the stream's length; the arrays start
 * small and double as rows come, so a short recording never holds the whole budget.
 */
export class RowSample {
  readonly state: RowSampleState;
  /** Max-heap of slots by (key, ordinal, position): the root is the row to drop first. */
  private heap: Int32Array;

  constructor(
    dim: number,
    capacity: number,
    private readonly seed: number,
  ) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`A sample needs room for at least one row; got ${capacity}.`);
    const rows = Math.min(capacity, FIRST_ROWS);
    this.state = {
      dim,
      capacity,
      size: 0,
      key: new Float64Array(rows),
      ordinal: new Float64Array(rows),
      position: new Int32Array(rows),
      tag: new Int32Array(rows),
      values: new Float32Array(rows * dim),
    };
    this.heap = new Int32Array(rows);
  }

  /** Doubles the arrays (up to the capacity) when they are full. */
  private grow(): void {
    const s = this.state;
    const rows = Math.min(s.capacity, 2 * s.key.length);
    const bigger = <T extends Float64Array | Int32Array | Float32Array>(a: T, length: number): T => {
      const b = new (a.constructor as new (n: number) => T)(length);
      b.set(a);
      return b;
    };
    s.key = bigger(s.key, rows);
    s.ordinal = bigger(s.ordinal, rows);
    s.position = bigger(s.position, rows);
    s.tag = bigger(s.tag, rows);
    s.values = bigger(s.values, rows * s.dim);
    this.heap = bigger(this.heap, rows);
  }

  /** Offers one row: `dim` values of `data` from `offset`. */
  offer(ordinal: number, position: number, tag: number, data: Float32Array, offset: number): void {
    this.offerKeyed(rowKey(this.seed, ordinal, position), ordinal, position, tag, data, offset);
  }

  /** Offers every row of another sample drawn with the same seed (a shard's). */
  merge(other: RowSampleState): void {
    if (other.dim !== this.state.dim) throw new RangeError(`Cannot merge a sample of ${other.dim}-d rows into one of ${this.state.dim}-d rows.`);
    for (let r = 0; r < other.size; r++) this.offerKeyed(other.key[r], other.ordinal[r], other.position[r], other.tag[r], other.values, r * other.dim);
  }

  /** Slots of the rows held, ordered by (ordinal, position). */
  order(): number[] {
    const { ordinal, position, size } = this.state;
    return Array.from({ length: size }, (_, s) => s).sort((a, b) => ordinal[a] - ordinal[b] || position[a] - position[b]);
  }

  private offerKeyed(key: number, ordinal: number, position: number, tag: number, data: Float32Array, offset: number): void {
    const s = this.state;
    let slot: number;
    if (s.size < s.capacity) {
      if (s.size === s.key.length) this.grow();
      slot = s.size;
      this.heap[s.size] = slot;
      s.size++;
      this.write(slot, key, ordinal, position, tag, data, offset);
      this.siftUp(s.size - 1);
      return;
    }
    slot = this.heap[0];
    if (!this.before(key, ordinal, position, slot)) return;
    this.write(slot, key, ordinal, position, tag, data, offset);
    this.siftDown(0);
  }

  private write(slot: number, key: number, ordinal: number, position: number, tag: number, data: Float32Array, offset: number): void {
    const s = this.state;
    s.key[slot] = key;
    s.ordinal[slot] = ordinal;
    s.position[slot] = position;
    s.tag[slot] = tag;
    s.values.set(data.subarray(offset, offset + s.dim), slot * s.dim);
  }

  /** Whether a row with this key sorts before the row in `slot` (is kept in preference to it). */
  private before(key: number, ordinal: number, position: number, slot: number): boolean {
    const s = this.state;
    if (key !== s.key[slot]) return key < s.key[slot];
    if (ordinal !== s.ordinal[slot]) return ordinal < s.ordinal[slot];
    return position < s.position[slot];
  }

  private above(a: number, b: number): boolean {
    const s = this.state;
    return !this.before(s.key[a], s.ordinal[a], s.position[a], b) && a !== b;
  }

  private siftUp(i: number): void {
    const heap = this.heap;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.above(heap[i], heap[parent])) break;
      [heap[i], heap[parent]] = [heap[parent], heap[i]];
      i = parent;
    }
  }

  private siftDown(i: number): void {
    const heap = this.heap;
    const n = this.state.size;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let top = i;
      if (l < n && this.above(heap[l], heap[top])) top = l;
      if (r < n && this.above(heap[r], heap[top])) top = r;
      if (top === i) return;
      [heap[i], heap[top]] = [heap[top], heap[i]];
      i = top;
    }
  }
}
