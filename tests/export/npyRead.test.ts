import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fileSource } from '../../src/cli/npyFile';
import { npyFloat32 } from '../../src/export/npy';
import { blobSource, bytesSource, npyRowChunks, readNpyHeader, type ByteSource } from '../../src/export/npyRead';
import { pythonHas } from '../python';
import { tempDir } from '../tempDir';

const hasNumpy = pythonHas('numpy');

/** Every row of a source, read in chunks of `chunkBytes`, and the chunks' sizes. */
async function readAll(source: ByteSource, chunkBytes?: number) {
  const header = await readNpyHeader(source, 'acts.npy');
  const values = new Float32Array(header.rows * header.dim);
  const chunks: number[] = [];
  for await (const chunk of npyRowChunks(source, header, chunkBytes)) {
    values.set(chunk.values, chunk.start * header.dim);
    chunks.push(chunk.count);
  }
  return { header, values, chunks };
}

/** A .npy with a hand-written header dict (version 1.0), for the cases npyFloat32 never writes. */
function npyWithHeader(dict: string, data: Uint8Array, version: 1 | 2 | 3 = 1): Uint8Array {
  const lengthBytes = version === 1 ? 2 : 4;
  const padded = dict.padEnd(Math.ceil((8 + lengthBytes + dict.length + 1) / 64) * 64 - 8 - lengthBytes - 1, ' ') + '\n';
  const header = new TextEncoder().encode(padded);
  const out = new Uint8Array(8 + lengthBytes + header.length + data.length);
  out.set([0x93, 78, 85, 77, 80, 89, version, 0]);
  const view = new DataView(out.buffer);
  if (version === 1) view.setUint16(8, header.length, true);
  else view.setUint32(8, header.length, true);
  out.set(header, 8 + lengthBytes);
  out.set(data, 8 + lengthBytes + header.length);
  return out;
}

const matrix = (rows: number, dim: number) => Float32Array.from({ length: rows * dim }, (_, k) => Math.sin(k) * 3);

describe('readNpyHeader and npyRowChunks', () => {
  it('reads back what npyFloat32 writes, in chunks of bounded size, from bytes, a Blob and a file', async () => {
    const values = matrix(37, 5);
    const file = npyFloat32(values, [37, 5]);
    for (const source of [bytesSource(file), blobSource(new Blob([file.slice()]))]) {
      const read = await readAll(source, 5 * 4 * 8);
      expect(read.header).toMatchObject({ rows: 37, dim: 5, dtype: '<f4', version: '1.0' });
      expect(read.values).toEqual(values);
      expect(read.chunks).toEqual([8, 8, 8, 8, 5]);
    }
    const path = join(tempDir('npy-read-'), 'acts.npy');
    writeFileSync(path, file);
    const source = await fileSource(path);
    try {
      const read = await readAll(source, 64);
      expect(read.values).toEqual(values);
      expect(Math.max(...read.chunks)).toBe(3);
    } finally {
      await source.close();
    }
  });

  it('reads header versions 2.0 and 3.0, and converts float64 and float16 to float32', async () => {
    const f64 = new Float64Array([1.5, -2.25, 1e-3, 4]);
    const v2 = npyWithHeader("{'descr': '<f8', 'fortran_order': False, 'shape': (2, 2), }", new Uint8Array(f64.buffer), 2);
    expect(Array.from((await readAll(bytesSource(v2))).values)).toEqual(Array.from(Float32Array.from(f64)));
    // float16 bits of 1, -2, 0.5, 65504 and the smallest subnormal.
    const halves = new Uint16Array([0x3c00, 0xc000, 0x3800, 0x7bff, 0x0001, 0]);
    const v3 = npyWithHeader('{"descr": "<f2", "fortran_order": False, "shape": (3, 2)}', new Uint8Array(halves.buffer), 3);
    const read = await readAll(bytesSource(v3));
    expect(read.header.version).toBe('3.0');
    expect(Array.from(read.values)).toEqual([1, -2, 0.5, 65504, Math.fround(2 ** -24), 0]);
  });

  it('refuses another dtype, Fortran order, a shape that is not 2-D and a truncated file, saying what it expected', async () => {
    const data = new Uint8Array(64);
    const refuse = (bytes: Uint8Array) => readNpyHeader(bytesSource(bytes), 'acts.npy');
    await expect(refuse(npyWithHeader("{'descr': '<i8', 'fortran_order': False, 'shape': (2, 4), }", data))).rejects.toThrow(
      /acts\.npy holds '<i8' \(int64\): expected a 2-D C-order array \(rows x dim\) of little-endian float32 \('<f4'\)/,
    );
    await expect(refuse(npyWithHeader("{'descr': '>f4', 'fortran_order': False, 'shape': (2, 4), }", data))).rejects.toThrow(/'>f4' \(float32, big-endian\): expected/);
    await expect(refuse(npyWithHeader("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 4), }", data))).rejects.toThrow(/Fortran \(column-major\) order: expected/);
    await expect(refuse(npyFloat32(matrix(2, 6), [2, 3, 2]))).rejects.toThrow(/acts\.npy has shape \(2, 3, 2\): expected a 2-D/);
    await expect(refuse(npyFloat32(matrix(1, 6), [6]))).rejects.toThrow(/has shape \(6,\): expected a 2-D/);
    const whole = npyFloat32(matrix(10, 4), [10, 4]);
    await expect(refuse(whole.subarray(0, whole.length - 20))).rejects.toThrow(
      /acts\.npy is truncated: its header says 10 x 4 float32 \(288 bytes in all\), but the file has 268 bytes \(8 whole rows\)/,
    );
    await expect(refuse(whole.subarray(0, 30))).rejects.toThrow(/truncated: 30 bytes end inside its header/);
    await expect(refuse(new TextEncoder().encode('x,y\n1,2\n'))).rejects.toThrow(/not a NumPy \.npy file/);
  });

  it.skipIf(!hasNumpy)('reads files NumPy wrote: float32, float64, a long header (version 2.0) and a Fortran-order array refused', async () => {
    const dir = tempDir('npy-numpy-');
    execFileSync('python3', [
      '-c',
      `import numpy as np
a = (np.arange(60, dtype=np.float64).reshape(12, 5) / 7 - 3)
np.save('${dir}/f4.npy', a.astype('<f4'))
np.save('${dir}/f8.npy', a)
np.save('${dir}/fortran.npy', np.asfortranarray(a.astype('<f4')))
np.lib.format.write_array(open('${dir}/v2.npy', 'wb'), a.astype('<f4'), version=(2, 0))`,
    ]);
    const expected = Float32Array.from({ length: 60 }, (_, k) => k / 7 - 3);
    for (const name of ['f4.npy', 'f8.npy', 'v2.npy']) {
      const source = bytesSource(new Uint8Array(readFileSync(join(dir, name))));
      const read = await readAll(source, 40);
      expect(read.header.rows).toBe(12);
      expect(read.values).toEqual(expected);
    }
    await expect(readNpyHeader(bytesSource(new Uint8Array(readFileSync(join(dir, 'fortran.npy')))), 'fortran.npy')).rejects.toThrow(/Fortran/);
  });
});
