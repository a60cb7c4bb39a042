import { closeSync, openSync, writeSync } from 'node:fs';
import { npyHeader } from '../export/npy';

/** Room for any row count in the header written before the count is known. */
const HEADER_BYTES = 128;
/** Rows are written in chunks of about this many bytes. */
const CHUNK_BYTES = 4 * 1024 * 1024;

type Columns = Float32Array | Int32Array;

/**
 * Streams the rows of a 2-D .npy file (float32 or int32, rows x width) to disk: a header of fixed length
 * first, rows appended through a 4 MB buffer, and the header written again with the row count on `close`.
 * Memory stays at the buffer whatever the number of rows.
 */
export class NpyRowWriter<T extends Columns> {
  private readonly fd: number;
  private readonly buffer: T;
  private filled = 0;
  private rows = 0;
  private offset = HEADER_BYTES;

  constructor(
    readonly path: string,
    private readonly width: number,
    private readonly kind: T extends Float32Array ? 'float32' : 'int32',
  ) {
    this.fd = openSync(path, 'w');
    const capacity = Math.max(width, Math.floor(CHUNK_BYTES / 4 / width) * width);
    this.buffer = (kind === 'float32' ? new Float32Array(capacity) : new Int32Array(capacity)) as T;
    writeSync(this.fd, this.header(0));
  }

  /** Appends one row: `width` values of `data` from `offset`. */
  append(data: T, offset = 0): void {
    if (this.filled + this.width > this.buffer.length) this.flush();
    this.buffer.set(data.subarray(offset, offset + this.width), this.filled);
    this.filled += this.width;
    this.rows++;
  }

  /** Writes what is buffered and the final header; the file is complete after this. */
  close(): number {
    this.flush();
    writeSync(this.fd, this.header(this.rows), 0, HEADER_BYTES, 0);
    closeSync(this.fd);
    return this.rows;
  }

  private flush(): void {
    if (this.filled === 0) return;
    const bytes = new Uint8Array(this.buffer.buffer, 0, this.filled * 4);
    writeSync(this.fd, bytes, 0, bytes.length, this.offset);
    this.offset += bytes.length;
    this.filled = 0;
  }

  private header(rows: number): Uint8Array {
    const header = npyHeader(this.kind === 'float32' ? '<f4' : '<i4', [rows, this.width], HEADER_BYTES);
    if (header.length !== HEADER_BYTES) throw new RangeError(`A streamed .npy header must be ${HEADER_BYTES} bytes; this one is ${header.length}.`);
    return header;
  }
}

/**
 * Every recorded row streamed to `path` (float32, rows x dim) and each row's input and position to
 * `<path>.rows.npy` (int32, rows x 2): a recording's `onRow` sink. The files open at the first row, whose
 * width they take; `close` completes both and returns the row count.
 */
export class ActivationsWriter {
  readonly rowsPath: string;
  private values: NpyRowWriter<Float32Array> | null = null;
  private places: NpyRowWriter<Int32Array> | null = null;
  private readonly place = new Int32Array(2);

  constructor(readonly path: string) {
    this.rowsPath = path.replace(/(\.npy)?$/, '.rows.npy');
  }

  readonly onRow = (input: number, position: number, data: Float32Array, offset: number, dim: number): void => {
    this.values ??= new NpyRowWriter(this.path, dim, 'float32');
    this.places ??= new NpyRowWriter(this.rowsPath, 2, 'int32');
    this.values.append(data, offset);
    this.place[0] = input;
    this.place[1] = position;
    this.places.append(this.place);
  };

  /** Rows written; 0 (and no files) when no row came. */
  close(): number {
    this.places?.close();
    return this.values?.close() ?? 0;
  }
}
