/**
 * Reading NumPy .npy files of activations (rows x dim) in chunks of rows, never the whole file at once:
 * the header (versions 1.0, 2.0 and 3.0), then rows from any source that reads a byte range (a Blob or File
 * in the page, a file handle in the CLI: src/cli/npyFile.ts). float32 ('<f4') is read as it is; float64
 * ('<f8') and float16 ('<f2') are converted to float32 a chunk at a time. https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html
 */

import { littleEndian, NPY_MAGIC } from './npy';

export class NpyFormatError extends Error {
  override name = 'NpyFormatError';
}

/** Reads `length` bytes at `offset` (fewer only at the end of the source). */
export interface ByteSource {
  readonly size: number;
  read(offset: number, length: number): Promise<Uint8Array>;
}

/** A Blob or File as a byte source: each read slices the blob, so only the bytes asked for are read. */
export function blobSource(blob: Blob): ByteSource {
  return {
    size: blob.size,
    read: async (offset, length) => new Uint8Array(await blob.slice(offset, offset + length).arrayBuffer()),
  };
}

/** Bytes in memory as a byte source (tests, small files). */
export function bytesSource(bytes: Uint8Array): ByteSource {
  return { size: bytes.length, read: async (offset, length) => bytes.subarray(offset, offset + length) };
}


/** The element types read, each with its size; others are refused. */
const DTYPES = { '<f4': 4, '<f8': 8, '<f2': 2 } as const;
export type NpyDtype = keyof typeof DTYPES;
const DTYPE_NAMES: Record<NpyDtype, string> = { '<f4': 'float32', '<f8': 'float64', '<f2': 'float16' };

export interface NpyHeader {
  version: string;
  dtype: NpyDtype;
  rows: number;
  dim: number;
  /** Bytes before the first value. */
  dataOffset: number;
  bytesPerValue: number;
}

/** What a file must be, said in every message about one that is not. */
const EXPECTED = "expected a 2-D C-order array (rows x dim) of little-endian float32 ('<f4'); float64 ('<f8') and float16 ('<f2') are converted";

/** A Python literal from the header dict: a quoted string, True/False, or a tuple of integers. */
function headerField(dict: string, key: string): string | null {
  const match = new RegExp(`['"]${key}['"]\\s*:\\s*('[^']*'|"[^"]*"|True|False|\\([^)]*\\))`).exec(dict);
  return match ? match[1] : null;
}

/** Parses the preamble and header dict of a .npy file from its first bytes; `name` goes into the messages. */
export function parseNpyHeader(prefix: Uint8Array, name = 'the .npy file'): NpyHeader | { needBytes: number } {
  if (!NPY_MAGIC.every((b, k) => k >= prefix.length || prefix[k] === b) || prefix.length === 0) throw new NpyFormatError(`${name} is not a NumPy .npy file (it does not start with \\x93NUMPY): ${EXPECTED}.`);
  if (prefix.length < 10) return { needBytes: 10 };
  const major = prefix[6];
  const minor = prefix[7];
  if (major < 1 || major > 3) throw new NpyFormatError(`${name} is .npy format version ${major}.${minor}; this reads versions 1.0, 2.0 and 3.0.`);
  const view = new DataView(prefix.buffer, prefix.byteOffset, prefix.byteLength);
  const lengthBytes = major === 1 ? 2 : 4;
  if (prefix.length < 8 + lengthBytes) return { needBytes: 8 + lengthBytes };
  const headerLength = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const headerEnd = 8 + lengthBytes + headerLength;
  if (prefix.length < headerEnd) return { needBytes: headerEnd };
  const bytes = prefix.subarray(8 + lengthBytes, headerEnd);
  // Versions 1 and 2 write latin-1 (ASCII in practice), version 3 UTF-8.
  const dict = major === 3 ? new TextDecoder().decode(bytes) : String.fromCharCode(...bytes);
  const descr = headerField(dict, 'descr')?.slice(1, -1);
  const fortran = headerField(dict, 'fortran_order');
  const shapeText = headerField(dict, 'shape');
  if (descr === undefined || fortran === null || shapeText === null) throw new NpyFormatError(`${name}: the header ${JSON.stringify(dict.trim())} lacks descr, fortran_order or shape: ${EXPECTED}.`);
  const dtype = descr as NpyDtype;
  if (!Object.hasOwn(DTYPES, dtype)) {
    const plain = /^[<>|=]?([fiub])(\d+)$/.exec(descr);
    const what = plain ? `${{ f: 'float', i: 'int', u: 'uint', b: 'bool' }[plain[1]]}${plain[1] === 'b' ? '' : Number(plain[2]) * 8}${descr.startsWith('>') ? ', big-endian' : ''}` : 'not a number type';
    throw new NpyFormatError(`${name} holds '${descr}' (${what}): ${EXPECTED}. In NumPy: np.save(path, a.astype('<f4')).`);
  }
  if (fortran === 'True') throw new NpyFormatError(`${name} is in Fortran (column-major) order: ${EXPECTED}. In NumPy: np.save(path, np.ascontiguousarray(a)).`);
  const shape = shapeText
    .slice(1, -1)
    .split(',')
    .map((d) => d.trim())
    .filter((d) => d !== '')
    .map(Number);
  if (shape.length !== 2 || shape.some((d) => !Number.isSafeInteger(d) || d < 0)) {
    throw new NpyFormatError(`${name} has shape ${shapeText}: ${EXPECTED}. Reshape it to (rows, dim) first, e.g. a.reshape(len(a), -1).`);
  }
  const [rows, dim] = shape;
  if (dim === 0) throw new NpyFormatError(`${name} has shape ${shapeText}: rows of no values; ${EXPECTED}.`);
  return { version: `${major}.${minor}`, dtype, rows, dim, dataOffset: headerEnd, bytesPerValue: DTYPES[dtype] };
}

/** Reads and checks the header of a .npy source, and that the file holds every row it announces. */
export async function readNpyHeader(source: ByteSource, name = 'the .npy file'): Promise<NpyHeader> {
  let want = 128;
  for (;;) {
    const prefix = await source.read(0, Math.min(want, source.size));
    const header = parseNpyHeader(prefix, name);
    if ('needBytes' in header) {
      if (header.needBytes > source.size || prefix.length >= source.size) {
        throw new NpyFormatError(`${name} is truncated: ${source.size} bytes end inside its header; ${EXPECTED}.`);
      }
      want = Math.max(header.needBytes, want * 2);
      continue;
    }
    const expected = header.dataOffset + header.rows * header.dim * header.bytesPerValue;
    if (source.size < expected) {
      const whole = Math.floor((source.size - header.dataOffset) / (header.dim * header.bytesPerValue));
      throw new NpyFormatError(
        `${name} is truncated: its header says ${header.rows.toLocaleString('en')} x ${header.dim} ${DTYPE_NAMES[header.dtype]} (${expected.toLocaleString('en')} bytes in all), ` +
          `but the file has ${source.size.toLocaleString('en')} bytes (${Math.max(0, whole).toLocaleString('en')} whole rows).`,
      );
    }
    return header;
  }
}

/** Half-precision bits as a number. */
function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exponent = (h >> 10) & 0x1f;
  const fraction = h & 0x3ff;
  if (exponent === 0) return sign * 2 ** -14 * (fraction / 1024);
  if (exponent === 31) return fraction ? Number.NaN : sign * Infinity;
  return sign * 2 ** (exponent - 15) * (1 + fraction / 1024);
}

/** Values of `count` elements of `dtype` in little-endian bytes, as float32: a view of them where they are aligned float32, else a copy. */
function toFloat32(bytes: Uint8Array, dtype: NpyDtype, count: number): Float32Array {
  if (dtype === '<f4' && littleEndian) {
    // A Blob's or a file's read is a fresh, aligned buffer: viewed, not copied; bytes at an odd offset are copied.
    if (bytes.byteOffset % 4 === 0) return new Float32Array(bytes.buffer, bytes.byteOffset, count);
    return new Float32Array(bytes.slice(0, 4 * count).buffer);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Float32Array(count);
  if (dtype === '<f4') for (let k = 0; k < count; k++) out[k] = view.getFloat32(4 * k, true);
  else if (dtype === '<f8') for (let k = 0; k < count; k++) out[k] = view.getFloat64(8 * k, true);
  else for (let k = 0; k < count; k++) out[k] = halfToFloat(view.getUint16(2 * k, true));
  return out;
}

/** A chunk of rows: rows [start, start + count) as count x dim float32, row-major (it may view the bytes the source read: read it, never write it). */
export interface NpyChunk {
  start: number;
  count: number;
  values: Float32Array;
}

/** Default bytes per chunk read: rows enough for about 8 MB, so memory never holds more of the file than that. */
export const NPY_CHUNK_BYTES = 8 * 1024 * 1024;

/** The rows of a .npy source in chunks of at most `chunkBytes` of the file (at least one row each), in order. */
export async function* npyRowChunks(source: ByteSource, header: NpyHeader, chunkBytes = NPY_CHUNK_BYTES, name = 'the .npy file'): AsyncGenerator<NpyChunk> {
  const rowBytes = header.dim * header.bytesPerValue;
  const perChunk = Math.max(1, Math.floor(chunkBytes / rowBytes));
  for (let start = 0; start < header.rows; start += perChunk) {
    const count = Math.min(perChunk, header.rows - start);
    const bytes = await source.read(header.dataOffset + start * rowBytes, count * rowBytes);
    if (bytes.length < count * rowBytes) throw new NpyFormatError(`${name} is truncated: row ${start + Math.floor(bytes.length / rowBytes)} of ${header.rows} could not be read.`);
    yield { start, count, values: toFloat32(bytes, header.dtype, count * header.dim) };
  }
}

/** The element type's name in words ('float32'). */
export const npyDtypeName = (dtype: NpyDtype): string => DTYPE_NAMES[dtype];
