import { describe, expect, it } from 'vitest';
import { readSafetensors } from '../../../src/model/text/safetensors';
import { writeSafetensors } from './checkpoints';

/** A file whose F32 tensors start at 4-byte aligned offsets (the writer pads the header to 8 bytes). */
const file = () =>
  writeSafetensors([
    { name: 'a', dtype: 'F32', shape: [2, 2], values: [1, 2, 3, 4] },
    { name: 'h', dtype: 'F16', shape: [2], values: [0.5, -1] },
    { name: 'b', dtype: 'F32', shape: [3], values: [5, 6, 7] },
  ]);

describe('readSafetensors without a second copy of the weights', () => {
  it('reads aligned F32 tensors as views of the file: the loader holds the file and the tensors, not a decoded copy as well', () => {
    const bytes = file();
    const tensors = readSafetensors(bytes);
    for (const name of ['a', 'b']) expect(tensors.get(name)!.data.buffer).toBe(bytes.buffer);
    expect([...tensors.get('a')!.data]).toEqual([1, 2, 3, 4]);
    expect([...tensors.get('b')!.data]).toEqual([5, 6, 7]);
    // F16 has to be decoded to float32: a new array.
    expect(tensors.get('h')!.data.buffer).not.toBe(bytes.buffer);
    expect([...tensors.get('h')!.data]).toEqual([0.5, -1]);
  });

  it('copies F32 data that a view could not read (a file at an odd offset in its buffer)', () => {
    const bytes = file();
    const shifted = new Uint8Array(bytes.length + 1);
    shifted.set(bytes, 1);
    const tensors = readSafetensors(shifted.subarray(1));
    expect(tensors.get('a')!.data.buffer).not.toBe(shifted.buffer);
    expect([...tensors.get('a')!.data]).toEqual([1, 2, 3, 4]);
    expect([...tensors.get('b')!.data]).toEqual([5, 6, 7]);
  });
});
