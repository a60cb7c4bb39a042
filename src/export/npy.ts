/**
 * NumPy's .npy format, version 1.0: the magic `\x93NUMPY`, the version bytes 1 0, a little-endian uint16
 * header length, an ASCII Python dict literal padded with spaces and ended by a newline so that the data
 * starts at a multiple of 64 bytes, then the data. https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html
 */

/** The bytes every .npy file starts with: \x93NUMPY. */
export const NPY_MAGIC = [0x93, ...'NUMPY'.split('').map((c) => c.charCodeAt(0))];
const PREAMBLE = NPY_MAGIC.length + 2 + 2;
const ALIGNMENT = 64;
/** Whether this machine stores numbers little-endian, as .npy's '<f4' does. */
export const littleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** A .npy file of float32 values ('<f4', C order) with the given shape, e.g. [rows, dim] for an N x D matrix. */
export function npyFloat32(values: Float32Array, shape: readonly number[]): Uint8Array {
  if (shape.some((d) => !Number.isInteger(d) || d < 0)) throw new RangeError(`A .npy shape needs whole, non-negative sizes; got [${shape.join(', ')}].`);
  const size = shape.reduce((a, b) => a * b, 1);
  if (size !== values.length) throw new RangeError(`Shape [${shape.join(', ')}] holds ${size} values, but ${values.length} were given.`);
  const header = npyHeader('<f4', shape);
  const file = new Uint8Array(header.length + values.byteLength);
  file.set(header);
  if (littleEndian) file.set(new Uint8Array(values.buffer, values.byteOffset, values.byteLength), header.length);
  else {
    const view = new DataView(file.buffer, header.length);
    values.forEach((v, k) => view.setFloat32(4 * k, v, true));
  }
  return file;
}

/**
 * The preamble and padded header dict of a C-order array, at least `minBytes` long: a writer that streams rows
 * writes a header of a fixed length first and the same length again once the row count is known.
 */
export function npyHeader(descr: string, shape: readonly number[], minBytes = 0): Uint8Array {
  const tuple = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  const dict = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${tuple}, }`;
  const total = Math.max(minBytes, PREAMBLE + dict.length + 1);
  const padded = dict.padEnd(Math.ceil(total / ALIGNMENT) * ALIGNMENT - PREAMBLE - 1, ' ') + '\n';
  if (padded.length > 0xffff) throw new RangeError('The .npy header would pass 65,535 bytes, the most version 1.0 allows.');
  const bytes = new Uint8Array(PREAMBLE + padded.length);
  bytes.set(NPY_MAGIC);
  bytes[6] = 1;
  bytes[7] = 0;
  new DataView(bytes.buffer).setUint16(8, padded.length, true);
  for (let k = 0; k < padded.length; k++) bytes[PREAMBLE + k] = padded.charCodeAt(k);
  return bytes;
}
