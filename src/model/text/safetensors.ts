/**
 * Reader for Hugging Face safetensors checkpoints (single files and sharded ones), decoding
 * F32, F16 and BF16 tensors to Float32Array, and a writer (F32 from Float32Array, or any dtype's raw bytes).
 *
 * Layout: an 8-byte little-endian header length N, N bytes of JSON
 * `{name: {dtype, shape, data_offsets: [begin, end]}, __metadata__?}`, then the data section;
 * offsets are relative to the data section, which tensors must cover without gaps or overlaps.
 */

/**
 * A tensor decoded to float32 on the host, row-major. An F32 tensor's data is a view of the file's bytes
 * where they are 4-byte aligned (no copy): the file must not be changed while its tensors are in use.
 */
export interface HostTensor {
  shape: number[];
  data: Float32Array;
}

/** One header entry: where a tensor lies in the data section and how it is stored. */
export interface SafetensorsEntry {
  name: string;
  dtype: string;
  shape: number[];
  /** Byte range [begin, end) relative to the start of the data section. */
  begin: number;
  end: number;
}

export interface SafetensorsHeader {
  entries: SafetensorsEntry[];
  /** Absolute byte offset of the data section in the file. */
  dataStart: number;
}

export interface ReadOptions {
  /** Tensors to leave out without decoding them (e.g. GPT-2's attention-mask buffers). */
  skip?: (name: string) => boolean;
  /** Name of the file in messages. */
  fileName?: string;
}

/** The file is not a valid safetensors checkpoint, or holds a tensor this reader cannot decode. */
export class SafetensorsError extends Error {
  override name = 'SafetensorsError';
}

export const DECODABLE_DTYPES = ['F32', 'F16', 'BF16'] as const;

/** Bytes per element of every dtype the format defines; needed to validate even tensors we skip. */
const DTYPE_BYTES: Record<string, number> = {
  F64: 8, F32: 4, F16: 2, BF16: 2,
  I64: 8, I32: 4, I16: 2, I8: 1,
  U64: 8, U32: 4, U16: 2, U8: 1,
  BOOL: 1, F8_E4M3: 1, F8_E5M2: 1,
};

type Bytes = ArrayBuffer | Uint8Array;

const asUint8 = (bytes: Bytes): Uint8Array => (bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes));

/** Parses and validates the header: every entry's shape, dtype and byte range against the file's size. */
export function readSafetensorsHeader(bytes: Bytes, fileName = 'safetensors file'): SafetensorsHeader {
  const file = asUint8(bytes);
  if (file.byteLength < 8) {
    throw new SafetensorsError(`${fileName} is truncated: ${file.byteLength} bytes, shorter than the 8-byte header length.`);
  }
  const headerLength = Number(new DataView(file.buffer, file.byteOffset, 8).getBigUint64(0, true));
  if (headerLength > file.byteLength - 8) {
    throw new SafetensorsError(
      `${fileName} is truncated or not safetensors: its header length is ${headerLength} bytes but only ${file.byteLength - 8} bytes follow.`,
    );
  }
  const json = parseHeaderJson(file.subarray(8, 8 + headerLength), fileName);
  const dataStart = 8 + headerLength;
  const entries = Object.entries(json)
    .filter(([name]) => name !== '__metadata__')
    .map(([name, value]) => parseEntry(name, value, fileName));
  checkDataLayout(entries, file.byteLength - dataStart, fileName);
  return { entries, dataStart };
}

/** Decodes every tensor of a safetensors file (except skipped ones) to float32. */
export function readSafetensors(bytes: Bytes, options: ReadOptions = {}): Map<string, HostTensor> {
  const file = asUint8(bytes);
  const fileName = options.fileName ?? 'safetensors file';
  const { entries, dataStart } = readSafetensorsHeader(file, fileName);
  const tensors = new Map<string, HostTensor>();
  for (const entry of entries) {
    if (options.skip?.(entry.name)) continue;
    const raw = file.subarray(dataStart + entry.begin, dataStart + entry.end);
    tensors.set(entry.name, { shape: entry.shape, data: decodeToFloat32(raw, entry, fileName) });
  }
  return tensors;
}

/**
 * Decodes a sharded checkpoint: `index` is `model.safetensors.index.json` (its text or parsed value),
 * whose `weight_map` names the shard file of each tensor; `shards` holds those files' bytes by name.
 */
export function readShardedSafetensors(
  index: string | unknown,
  shards: ReadonlyMap<string, Bytes> | Record<string, Bytes>,
  options: Omit<ReadOptions, 'fileName'> = {},
): Map<string, HostTensor> {
  const weightMap = parseWeightMap(index);
  const shardBytes = shards instanceof Map ? shards : new Map(Object.entries(shards));
  const namesByShard = new Map<string, string[]>();
  for (const [name, shard] of Object.entries(weightMap)) {
    if (options.skip?.(name)) continue;
    namesByShard.set(shard, [...(namesByShard.get(shard) ?? []), name]);
  }
  const tensors = new Map<string, HostTensor>();
  for (const [shard, names] of namesByShard) {
    const bytes = shardBytes.get(shard);
    if (!bytes) {
      throw new SafetensorsError(`Shard "${shard}" named in the index's weight_map (for ${names[0]}) was not provided.`);
    }
    const wanted = new Set(names);
    const fromShard = readSafetensors(bytes, { fileName: shard, skip: (name) => !wanted.has(name) });
    for (const name of names) {
      const tensor = fromShard.get(name);
      if (!tensor) throw new SafetensorsError(`The index puts ${name} in shard "${shard}", but that shard has no such tensor.`);
      tensors.set(name, tensor);
    }
  }
  return tensors;
}

/** A tensor to write: float32 values, or the little-endian bytes of any dtype the format defines. */
export type SafetensorsTensorToWrite =
  | { name: string; shape: number[]; data: Float32Array }
  | { name: string; dtype: string; shape: number[]; bytes: Uint8Array };

/**
 * Safetensors bytes: u64 LE header length, the JSON header padded with spaces to a multiple of 8 bytes (as
 * Hugging Face does, so that the reader's F32 views are aligned), then the tensors in the order given.
 */
export function writeSafetensors(tensors: readonly SafetensorsTensorToWrite[], metadata?: Record<string, string>): Uint8Array {
  const names = new Set<string>();
  const chunks = tensors.map((t) => {
    if (names.has(t.name) || t.name === '__metadata__') throw new SafetensorsError(`Cannot write tensor ${t.name}: the name is used twice or reserved.`);
    names.add(t.name);
    const dtype = 'data' in t ? 'F32' : t.dtype;
    const bytes = 'data' in t ? new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength) : t.bytes;
    if (!(dtype in DTYPE_BYTES)) throw unsupportedDtype(t.name, dtype, 'the file to write');
    if (!t.shape.every((d) => isNonNegativeInteger(d))) throw new SafetensorsError(`Cannot write tensor ${t.name}: invalid shape [${t.shape.join(', ')}].`);
    const expected = t.shape.reduce((n, d) => n * d, 1) * DTYPE_BYTES[dtype];
    if (bytes.byteLength !== expected) {
      throw new SafetensorsError(`Cannot write tensor ${t.name}: ${bytes.byteLength} bytes, but ${dtype} of shape [${t.shape.join(', ')}] takes ${expected}.`);
    }
    return { dtype, bytes };
  });
  const header: Record<string, unknown> = metadata ? { __metadata__: metadata } : {};
  let offset = 0;
  tensors.forEach((t, i) => {
    header[t.name] = { dtype: chunks[i].dtype, shape: t.shape, data_offsets: [offset, offset + chunks[i].bytes.byteLength] };
    offset += chunks[i].bytes.byteLength;
  });
  const json = new TextEncoder().encode(JSON.stringify(header));
  const headerLength = json.length + ((8 - (json.length % 8)) % 8);
  const file = new Uint8Array(8 + headerLength + offset);
  new DataView(file.buffer).setBigUint64(0, BigInt(headerLength), true);
  file.set(json, 8);
  file.fill(0x20, 8 + json.length, 8 + headerLength);
  let at = 8 + headerLength;
  for (const { bytes } of chunks) {
    file.set(bytes, at);
    at += bytes.byteLength;
  }
  return file;
}

function parseHeaderJson(headerBytes: Uint8Array, fileName: string): Record<string, unknown> {
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(headerBytes));
  } catch (e) {
    throw new SafetensorsError(`${fileName} is not safetensors: its header is not JSON (${(e as Error).message}).`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new SafetensorsError(`${fileName} is not safetensors: its header is not a JSON object.`);
  }
  return json as Record<string, unknown>;
}

function parseEntry(name: string, value: unknown, fileName: string): SafetensorsEntry {
  const bad = (what: string) => new SafetensorsError(`${fileName}: tensor ${name} has ${what}.`);
  if (typeof value !== 'object' || value === null) throw bad('a header entry that is not an object');
  const { dtype, shape, data_offsets: offsets } = value as Record<string, unknown>;
  if (typeof dtype !== 'string') throw bad('no dtype');
  if (!(dtype in DTYPE_BYTES)) throw unsupportedDtype(name, dtype, fileName);
  if (!Array.isArray(shape) || !shape.every(isNonNegativeInteger)) throw bad(`an invalid shape ${JSON.stringify(shape)}`);
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isNonNegativeInteger) || offsets[0] > offsets[1]) {
    throw bad(`invalid data_offsets ${JSON.stringify(offsets)}`);
  }
  const [begin, end] = offsets as [number, number];
  const expected = shape.reduce((n: number, d: number) => n * d, 1) * DTYPE_BYTES[dtype];
  if (end - begin !== expected) {
    throw bad(`${end - begin} bytes of data but ${dtype} of shape [${shape.join(', ')}] needs ${expected}: the header is inconsistent`);
  }
  return { name, dtype, shape: shape as number[], begin, end };
}

/** The data section must be covered exactly: no gaps, no overlaps, nothing past its end. */
function checkDataLayout(entries: SafetensorsEntry[], dataLength: number, fileName: string): void {
  const byOffset = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let expectedBegin = 0;
  for (const entry of byOffset) {
    if (entry.begin !== expectedBegin) {
      const problem = entry.begin < expectedBegin ? 'overlaps the previous tensor' : `leaves a gap after byte ${expectedBegin}`;
      throw new SafetensorsError(`${fileName}: the header is inconsistent: tensor ${entry.name} at bytes [${entry.begin}, ${entry.end}) ${problem}.`);
    }
    expectedBegin = entry.end;
  }
  if (expectedBegin > dataLength) {
    const last = byOffset[byOffset.length - 1];
    throw new SafetensorsError(
      `${fileName} is truncated: tensor ${last.name} ends at data byte ${expectedBegin} but the data section has only ${dataLength} bytes.`,
    );
  }
  if (expectedBegin < dataLength) {
    throw new SafetensorsError(`${fileName}: ${dataLength - expectedBegin} bytes after the last tensor are not described by the header.`);
  }
}

function decodeToFloat32(raw: Uint8Array, entry: SafetensorsEntry, fileName: string): Float32Array {
  const count = raw.byteLength / DTYPE_BYTES[entry.dtype];
  // Safetensors is little-endian, as are the platforms TF.js runs on, so typed-array views read it directly.
  // A view rather than a copy: a second copy of every weight, beside the file and the backend's, would
  // double the host memory a load needs (the safetensors writer pads its header so that data is aligned).
  if (entry.dtype === 'F32' && raw.byteOffset % 4 === 0) return new Float32Array(raw.buffer, raw.byteOffset, count);
  const out = new Float32Array(count);
  switch (entry.dtype) {
    case 'F32':
      new Uint8Array(out.buffer).set(raw);
      return out;
    case 'F16': {
      const bits = new Uint32Array(out.buffer);
      for (let i = 0; i < count; i++) bits[i] = halfToFloatBits(raw[2 * i] | (raw[2 * i + 1] << 8));
      return out;
    }
    case 'BF16': {
      // bfloat16 is the upper half of a float32.
      const bits = new Uint32Array(out.buffer);
      for (let i = 0; i < count; i++) bits[i] = ((raw[2 * i] | (raw[2 * i + 1] << 8)) << 16) >>> 0;
      return out;
    }
    default:
      throw unsupportedDtype(entry.name, entry.dtype, fileName);
  }
}

/** IEEE binary16 bits to binary32 bits, exact (subnormals, infinities and NaN included). */
export function halfToFloatBits(half: number): number {
  const sign = (half & 0x8000) << 16;
  const exponent = (half >> 10) & 0x1f;
  let mantissa = half & 0x3ff;
  if (exponent === 0x1f) return (sign | 0x7f800000 | (mantissa << 13)) >>> 0;
  if (exponent !== 0) return (sign | ((exponent + 112) << 23) | (mantissa << 13)) >>> 0;
  if (mantissa === 0) return sign >>> 0;
  // Subnormal half: shift the leading 1 into the implicit bit, lowering the exponent to match.
  let floatExponent = 113;
  while ((mantissa & 0x400) === 0) {
    mantissa <<= 1;
    floatExponent--;
  }
  return (sign | (floatExponent << 23) | ((mantissa & 0x3ff) << 13)) >>> 0;
}

function parseWeightMap(index: string | unknown): Record<string, string> {
  let json = index;
  if (typeof index === 'string') {
    try {
      json = JSON.parse(index);
    } catch (e) {
      throw new SafetensorsError(`The sharded checkpoint's index is not JSON (${(e as Error).message}).`);
    }
  }
  const weightMap = (json as { weight_map?: unknown } | null)?.weight_map;
  if (typeof weightMap !== 'object' || weightMap === null || Array.isArray(weightMap)) {
    throw new SafetensorsError('The sharded checkpoint\'s index has no "weight_map" object (tensor name -> shard file).');
  }
  for (const [name, shard] of Object.entries(weightMap)) {
    if (typeof shard !== 'string') throw new SafetensorsError(`The index's weight_map gives ${name} a shard that is not a file name.`);
  }
  return weightMap as Record<string, string>;
}

function unsupportedDtype(name: string, dtype: string, fileName: string): SafetensorsError {
  return new SafetensorsError(`${fileName}: tensor ${name} has dtype ${dtype}, which is not supported (supported: ${DECODABLE_DTYPES.join(', ')}).`);
}

function isNonNegativeInteger(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}
