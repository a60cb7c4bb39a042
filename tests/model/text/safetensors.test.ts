import { describe, expect, it } from 'vitest';
import { readSafetensors, readSafetensorsHeader, readShardedSafetensors, SafetensorsError, writeSafetensors as writeApp } from '../../../src/model/text/safetensors';
import { toBfloat16, toHalf, writeSafetensors } from './checkpoints';

/** A file with exactly this header (any JSON text) and `dataLength` zero bytes of data. */
function fileWithHeader(header: unknown, dataLength: number): Uint8Array {
  const json = new TextEncoder().encode(typeof header === 'string' ? header : JSON.stringify(header));
  const file = new Uint8Array(8 + json.length + dataLength);
  new DataView(file.buffer).setBigUint64(0, BigInt(json.length), true);
  file.set(json, 8);
  return file;
}

const halfBytes = (bits: number[]) => new Uint8Array(Uint16Array.from(bits).buffer);

describe('readSafetensors', () => {
  it('decodes F32, F16 and BF16 to the exact stored values', () => {
    const values = [0, 1, -2.5, 0.1, 3.14159, -1e-3, 7e-6, 1234.5678];
    const file = writeSafetensors([
      { name: 'a', dtype: 'F32', shape: [2, 4], values },
      { name: 'b', dtype: 'F16', shape: [8], values },
      { name: 'c', dtype: 'BF16', shape: [4, 2], values },
    ]);
    const tensors = readSafetensors(file);
    expect(tensors.get('a')).toEqual({ shape: [2, 4], data: Float32Array.from(values) });
    expect(Array.from(tensors.get('b')!.data)).toEqual(values.map(toHalf));
    expect(Array.from(tensors.get('c')!.data)).toEqual(values.map(toBfloat16));
    expect(tensors.get('c')!.shape).toEqual([4, 2]);
  });

  it('decodes half-precision subnormals, extremes, signed zero, infinities and NaN', () => {
    const bits = [0x0001, 0x03ff, 0x0400, 0x7bff, 0x8000, 0x7c00, 0xfc00, 0x7e00, 0x3c00, 0xc000];
    const file = writeSafetensors([{ name: 'h', dtype: 'F16', shape: [bits.length], bytes: halfBytes(bits) }]);
    const data = Array.from(readSafetensors(file).get('h')!.data);
    expect(data).toEqual([2 ** -24, 1023 * 2 ** -24, 2 ** -14, 65504, -0, Infinity, -Infinity, NaN, 1, -2]);
    expect(Object.is(data[4], -0)).toBe(true);
  });

  it('ignores __metadata__, reads scalars and empty tensors, and accepts a Uint8Array view into a larger buffer', () => {
    const file = writeSafetensors(
      [
        { name: 'scalar', dtype: 'F32', shape: [], values: [-1e4] },
        { name: 'empty', dtype: 'F16', shape: [0, 3], values: [] },
        { name: 'v', dtype: 'F32', shape: [2], values: [1, 2] },
      ],
      { format: 'pt' },
    );
    const padded = new Uint8Array(file.length + 13);
    padded.set(file, 5);
    const tensors = readSafetensors(padded.subarray(5, 5 + file.length));
    expect([...tensors.keys()]).toEqual(['scalar', 'empty', 'v']);
    expect(tensors.get('scalar')).toEqual({ shape: [], data: Float32Array.from([-1e4]) });
    expect(tensors.get('empty')!.data.length).toBe(0);
    expect(Array.from(readSafetensors(file.buffer as ArrayBuffer).get('v')!.data)).toEqual([1, 2]);
  });

  it('lists the header without decoding, and skip leaves tensors of any dtype undecoded', () => {
    const file = writeSafetensors([
      { name: 'w', dtype: 'F32', shape: [3], values: [1, 2, 3] },
      { name: 'mask', dtype: 'BOOL', shape: [2, 2], bytes: Uint8Array.from([1, 0, 1, 1]) },
    ]);
    const { entries } = readSafetensorsHeader(file);
    expect(entries.map(({ name, dtype, shape, begin, end }) => [name, dtype, shape, begin, end])).toEqual([
      ['w', 'F32', [3], 0, 12],
      ['mask', 'BOOL', [2, 2], 12, 16],
    ]);
    expect([...readSafetensors(file, { skip: (name) => name === 'mask' }).keys()]).toEqual(['w']);
    expect(() => readSafetensors(file, { fileName: 'model.safetensors' })).toThrow(
      'model.safetensors: tensor mask has dtype BOOL, which is not supported (supported: F32, F16, BF16).',
    );
  });
});

describe('readSafetensors on broken files', () => {
  const good = writeSafetensors([
    { name: 'first', dtype: 'F32', shape: [2, 3], values: [1, 2, 3, 4, 5, 6] },
    { name: 'second', dtype: 'F16', shape: [4], values: [1, 2, 3, 4] },
  ]);
  const read = (bytes: Uint8Array) => () => readSafetensors(bytes, { fileName: 'model.safetensors' });

  it('a file cut short: before the header length, inside the header, inside the data', () => {
    expect(read(good.subarray(0, 5))).toThrow('model.safetensors is truncated: 5 bytes, shorter than the 8-byte header length.');
    expect(read(good.subarray(0, 40))).toThrow(/model\.safetensors is truncated or not safetensors: its header length is \d+ bytes but only 32 bytes follow/);
    expect(read(good.subarray(0, good.length - 3))).toThrow(
      'model.safetensors is truncated: tensor second ends at data byte 32 but the data section has only 29 bytes.',
    );
  });

  it('a header that lies about sizes, order or extent', () => {
    const entry = (dtype: string, shape: number[], begin: number, end: number) => ({ dtype, shape, data_offsets: [begin, end] });
    expect(read(fileWithHeader({ a: entry('F32', [2, 3], 0, 20) }, 20))).toThrow(
      'model.safetensors: tensor a has 20 bytes of data but F32 of shape [2, 3] needs 24: the header is inconsistent.',
    );
    expect(read(fileWithHeader({ a: entry('F32', [4], 0, 16), b: entry('F32', [2], 8, 16) }, 16))).toThrow(
      'model.safetensors: the header is inconsistent: tensor b at bytes [8, 16) overlaps the previous tensor.',
    );
    expect(read(fileWithHeader({ a: entry('F32', [2], 0, 8), b: entry('F32', [2], 12, 20) }, 20))).toThrow(
      'model.safetensors: the header is inconsistent: tensor b at bytes [12, 20) leaves a gap after byte 8.',
    );
    expect(read(fileWithHeader({ a: entry('F32', [2], 8, 0) }, 8))).toThrow('model.safetensors: tensor a has invalid data_offsets [8,0].');
    expect(read(fileWithHeader({ a: entry('F32', [2, -1], 0, 8) }, 8))).toThrow('model.safetensors: tensor a has an invalid shape [2,-1].');
    expect(read(fileWithHeader({ a: entry('F32', [2], 0, 8) }, 12))).toThrow('model.safetensors: 4 bytes after the last tensor are not described by the header.');
  });

  it('a header that is not JSON, or not an object', () => {
    expect(read(fileWithHeader('{"a": {"dtype": "F32"', 0))).toThrow(/^model\.safetensors is not safetensors: its header is not JSON \(/);
    expect(read(fileWithHeader([1, 2], 0))).toThrow('model.safetensors is not safetensors: its header is not a JSON object.');
    const png = Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13]);
    expect(read(png)).toThrow(/truncated or not safetensors/);
  });

  it('a dtype this reader cannot decode, or that the format does not define', () => {
    const int64 = writeSafetensors([{ name: 'position_ids', dtype: 'I64', shape: [2], bytes: new Uint8Array(16) }]);
    expect(read(int64)).toThrow('model.safetensors: tensor position_ids has dtype I64, which is not supported (supported: F32, F16, BF16).');
    expect(read(fileWithHeader({ q: { dtype: 'Q4_K', shape: [2], data_offsets: [0, 1] } }, 1))).toThrow(
      'model.safetensors: tensor q has dtype Q4_K, which is not supported (supported: F32, F16, BF16).',
    );
  });

  it('every error is a SafetensorsError', () => {
    expect(read(good.subarray(0, 5))).toThrow(SafetensorsError);
  });
});

describe('readShardedSafetensors', () => {
  const shard1 = writeSafetensors([
    { name: 'a', dtype: 'F32', shape: [2], values: [1, 2] },
    { name: 'unlisted', dtype: 'F32', shape: [1], values: [9] },
  ]);
  const shard2 = writeSafetensors([
    { name: 'b', dtype: 'BF16', shape: [2], values: [3, 4] },
    { name: 'mask', dtype: 'BOOL', shape: [1], bytes: Uint8Array.from([1]) },
  ]);
  const index = JSON.stringify({
    metadata: { total_size: 13 },
    weight_map: { a: 'model-00001-of-00002.safetensors', b: 'model-00002-of-00002.safetensors', mask: 'model-00002-of-00002.safetensors' },
  });
  const shards = { 'model-00001-of-00002.safetensors': shard1, 'model-00002-of-00002.safetensors': shard2 };

  it('takes each tensor from the shard the weight_map names', () => {
    const tensors = readShardedSafetensors(index, new Map(Object.entries(shards)), { skip: (name) => name === 'mask' });
    expect([...tensors.keys()].sort()).toEqual(['a', 'b']);
    expect(Array.from(tensors.get('b')!.data)).toEqual([3, 4]);
    expect(readShardedSafetensors(JSON.parse(index), shards, { skip: (name) => name === 'mask' }).get('a')!.data).toEqual(Float32Array.from([1, 2]));
  });

  it('names a missing shard, a tensor missing from its shard, and an index without weight_map', () => {
    expect(() => readShardedSafetensors(index, { 'model-00001-of-00002.safetensors': shard1 })).toThrow(
      'Shard "model-00002-of-00002.safetensors" named in the index\'s weight_map (for b) was not provided.',
    );
    const lying = JSON.stringify({ weight_map: { a: 'model-00002-of-00002.safetensors' } });
    expect(() => readShardedSafetensors(lying, shards)).toThrow('The index puts a in shard "model-00002-of-00002.safetensors", but that shard has no such tensor.');
    expect(() => readShardedSafetensors('{"metadata": {}}', shards)).toThrow('The sharded checkpoint\'s index has no "weight_map" object');
    expect(() => readShardedSafetensors('not json', shards)).toThrow(/^The sharded checkpoint's index is not JSON/);
  });
});

describe('writeSafetensors (the app writer)', () => {
  it('writes float32 arrays (views too) and raw bytes that read back bit for bit, data aligned for views', () => {
    const big = Float32Array.from({ length: 10 }, (_, i) => i / 3 - 1);
    const file = writeApp([
      { name: 'w', shape: [2, 3], data: big.subarray(1, 7) },
      { name: 'mask', dtype: 'BOOL', shape: [3], bytes: Uint8Array.from([1, 0, 1]) },
      { name: 'b', shape: [1], data: Float32Array.from([-0]) },
    ], { format: 'pt' });
    const { entries, dataStart } = readSafetensorsHeader(file);
    expect(dataStart % 8).toBe(0);
    expect(entries.map((e) => [e.name, e.dtype, e.shape])).toEqual([['w', 'F32', [2, 3]], ['mask', 'BOOL', [3]], ['b', 'F32', [1]]]);
    const tensors = readSafetensors(file, { skip: (name) => name === 'mask' });
    expect(tensors.get('w')!.data).toEqual(big.subarray(1, 7));
    expect(Object.is(tensors.get('b')!.data[0], -0)).toBe(true);
  });

  it('refuses a tensor whose bytes do not fit its shape, a repeated name, or an unknown dtype', () => {
    expect(() => writeApp([{ name: 'w', shape: [2, 2], data: new Float32Array(3) }])).toThrow('Cannot write tensor w: 12 bytes, but F32 of shape [2, 2] takes 16.');
    expect(() => writeApp([{ name: 'w', shape: [1], data: new Float32Array(1) }, { name: 'w', shape: [1], data: new Float32Array(1) }])).toThrow('Cannot write tensor w: the name is used twice or reserved.');
    expect(() => writeApp([{ name: 'q', dtype: 'Q4', shape: [1], bytes: new Uint8Array(1) }])).toThrow(SafetensorsError);
  });
});
