/** Every unit's best rows as plain columns: unit u's entries are [u * k, u * k + count[u]), in no order. */
export interface UnitTopKState {
  units: number;
  k: number;
  count: Int32Array;
  value: Float32Array;
  ordinal: Float64Array;
  position: Int32Array;
}

/** One of a unit's top rows. */
export interface TopRow {
  ordinal: number;
  position: number;
  value: number;
}

/**
 * The exact k highest-activating rows of every unit over a stream. Ties are broken by the lower input ordinal,
 * then the lower position, so the result is a function of the rows alone and shards merge exactly.
 * NaN values never rank. Memory: units x k x 16 bytes.
 */
export class UnitTopK {
  readonly state: UnitTopKState;

  constructor(units: number, k: number) {
    if (!Number.isInteger(k) || k < 1) throw new RangeError(`Top-k needs k of at least 1; got ${k}.`);
    const size = units * k;
    this.state = {
      units,
      k,
      count: new Int32Array(units),
      value: new Float32Array(size),
      ordinal: new Float64Array(size),
      position: new Int32Array(size),
    };
  }

  /** Offers one row: unit u's value is data[offset + u]. */
  addRow(ordinal: number, position: number, data: Float32Array, offset: number): void {
    const { units, k, count, value } = this.state;
    for (let u = 0; u < units; u++) {
      const v = data[offset + u];
      if (!(v === v)) continue;
      const c = count[u];
      // The root of unit u's min-heap is its worst kept row: most rows stop at this comparison.
      if (c === k && v < value[u * k]) continue;
      this.offer(u, v, ordinal, position);
    }
  }

  /** Offers every entry of another top-k of the same units (a shard's). */
  merge(other: UnitTopKState): void {
    if (other.units !== this.state.units) throw new RangeError(`Cannot merge the top rows of ${other.units} units into ${this.state.units}.`);
    for (let u = 0; u < other.units; u++) {
      for (let e = u * other.k, end = e + other.count[u]; e < end; e++) this.offer(u, other.value[e], other.ordinal[e], other.position[e]);
    }
  }

  /** Unit u's rows, best first. */
  rows(u: number): TopRow[] {
    const { k, count, value, ordinal, position } = this.state;
    const rows: TopRow[] = [];
    for (let e = u * k, end = e + count[u]; e < end; e++) rows.push({ ordinal: ordinal[e], position: position[e], value: value[e] });
    return rows.sort((a, b) => b.value - a.value || a.ordinal - b.ordinal || a.position - b.position);
  }

  private offer(u: number, v: number, ordinal: number, position: number): void {
    const s = this.state;
    const base = u * s.k;
    const c = s.count[u];
    if (c < s.k) {
      this.put(base + c, v, ordinal, position);
      s.count[u] = c + 1;
      this.siftUp(base, c);
      return;
    }
    if (!this.better(v, ordinal, position, base)) return;
    this.put(base, v, ordinal, position);
    this.siftDown(base, s.k);
  }

  private put(e: number, v: number, ordinal: number, position: number): void {
    this.state.value[e] = v;
    this.state.ordinal[e] = ordinal;
    this.state.position[e] = position;
  }

  /** Whether (v, ordinal, position) ranks above entry e. */
  private better(v: number, ordinal: number, position: number, e: number): boolean {
    const s = this.state;
    if (v !== s.value[e]) return v > s.value[e];
    if (ordinal !== s.ordinal[e]) return ordinal < s.ordinal[e];
    return position < s.position[e];
  }

  /** Whether entry a ranks below entry b (the min-heap's order: the worst row at the root). */
  private worse(a: number, b: number): boolean {
    const s = this.state;
    return a !== b && this.better(s.value[b], s.ordinal[b], s.position[b], a);
  }

  private swap(a: number, b: number): void {
    const s = this.state;
    [s.value[a], s.value[b]] = [s.value[b], s.value[a]];
    [s.ordinal[a], s.ordinal[b]] = [s.ordinal[b], s.ordinal[a]];
    [s.position[a], s.position[b]] = [s.position[b], s.position[a]];
  }

  private siftUp(base: number, i: number): void {
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.worse(base + i, base + parent)) return;
      this.swap(base + i, base + parent);
      i = parent;
    }
  }

  private siftDown(base: number, n: number): void {
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let low = i;
      if (l < n && this.worse(base + l, base + low)) low = l;
      if (r < n && this.worse(base + r, base + low)) low = r;
      if (low === i) return;
      this.swap(base + i, base + low);
      i = low;
    }
  }
}
