import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { npyFloat32 } from '../../src/export/npy';
import { pythonHas } from '../python';
import { tempDir } from '../tempDir';

/** Reads a .npy v1.0 file back from the format's description: its header dict and its float32 data. */
function parseNpy(file: Uint8Array): { header: string; data: Float32Array; dataOffset: number } {
  expect(Array.from(file.subarray(0, 6))).toEqual([0x93, 78, 85, 77, 80, 89]);
  expect([file[6], file[7]]).toEqual([1, 0]);
  const headerLength = file[8] | (file[9] << 8);
  const header = new TextDecoder('ascii').decode(file.subarray(10, 10 + headerLength));
  const dataOffset = 10 + headerLength;
  const data = new Float32Array(file.slice(dataOffset).buffer);
  return { header, data, dataOffset };
}

const hasNumpy = pythonHas('numpy');

describe('npyFloat32', () => {
  it('writes a version 1.0 header with the shape, aligned to 64 bytes, then the values little-endian', () => {
    const values = Float32Array.from({ length: 12 }, (_, k) => k * 0.5 - 2);
    const { header, data, dataOffset } = parseNpy(npyFloat32(values, [3, 4]));
    expect(header.trimEnd()).toBe("{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }");
    expect(header.endsWith('\n')).toBe(true);
    expect(dataOffset % 64).toBe(0);
    expect(Array.from(data)).toEqual(Array.from(values));
  });

  it('writes one-element tuples with a trailing comma, and empty matrices', () => {
    expect(parseNpy(npyFloat32(new Float32Array(2), [2])).header).toContain("'shape': (2,)");
    const empty = parseNpy(npyFloat32(new Float32Array(0), [0, 7]));
    expect(empty.header).toContain("'shape': (0, 7)");
    expect(empty.data.length).toBe(0);
  });

  it('writes from a view into a larger buffer', () => {
    const whole = Float32Array.from({ length: 10 }, (_, k) => k);
    expect(Array.from(parseNpy(npyFloat32(whole.subarray(4, 8), [2, 2])).data)).toEqual([4, 5, 6, 7]);
  });

  it('refuses a shape that does not match the values', () => {
    expect(() => npyFloat32(new Float32Array(5), [2, 3])).toThrow(/holds 6 values, but 5 were given/);
    expect(() => npyFloat32(new Float32Array(0), [-1, 0])).toThrow(/non-negative/);
  });

  it.skipIf(!hasNumpy)('loads in NumPy with the same shape, dtype and values', () => {
    const values = Float32Array.from({ length: 15 }, (_, k) => Math.fround(Math.sin(k) * 1e3));
    values[3] = Number.NaN;
    values[4] = -Infinity;
    const path = join(tempDir('npy-'), 'rows.npy');
    writeFileSync(path, npyFloat32(values, [5, 3]));
    const script = 'import json, sys, numpy as np; a = np.load(sys.argv[1]); print(json.dumps([a.dtype.str, a.shape, a.flags.c_contiguous, [None if not np.isfinite(v) else float(v) for v in a.ravel()], int(np.isneginf(a).sum())]))';
    const [dtype, shape, contiguous, loaded, negInf] = JSON.parse(execFileSync('python3', ['-c', script, path], { encoding: 'utf8' }));
    expect([dtype, shape, contiguous, negInf]).toEqual(['<f4', [5, 3], true, 1]);
    expect(loaded).toEqual(Array.from(values, (v) => (Number.isFinite(v) ? v : null)));
  });
});

if (!hasNumpy) console.warn('npy.test.ts: python3 with numpy is not available here; the NumPy loading check is skipped.');
