import { concatBytes } from './bytes';

/** Pixels to encode: rows of `channels` bytes per pixel (1 grey, 2 grey + alpha, 3 RGB, 4 RGBA). */
export interface PngPixels {
  width: number;
  height: number;
  channels: 1 | 2 | 3 | 4;
  data: Uint8Array | Uint8ClampedArray;
}

/** zlib-compresses bytes (RFC 1950): `CompressionStream('deflate')` in browsers and Node alike. */
export type ZlibCompress = (bytes: Uint8Array) => Promise<Uint8Array>;

/** zlib through CompressionStream, written and read in JavaScript: no Blob, so nothing of it sits in the browser's blob registry. */
export const compressZlib: ZlibCompress = async (bytes) => {
  const stream = new CompressionStream('deflate');
  const writer = stream.writable.getWriter();
  void writer.write(bytes as Uint8Array<ArrayBuffer>).catch(() => undefined);
  void writer.close().catch(() => undefined);
  const parts: Uint8Array[] = [];
  let length = 0;
  const reader = stream.readable.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    parts.push(value);
    length += value.length;
  }
  return concatBytes(parts, length);
};

const COLOUR_TYPE = { 1: 0, 2: 4, 3: 2, 4: 6 } as const;
/** The row filters tried: None, Sub, Up and Paeth (Average, 3, is left out). */
const FILTERS = [0, 1, 2, 4] as const;

let crcTable: Uint32Array | null = null;
function crc32(bytes: Uint8Array, start: number, end: number): number {
  if (!crcTable) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  let c = 0xffffffff;
  for (let i = start; i < end; i++) c = crcTable[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/**
 * Each row behind its filter byte, the filter chosen per row by the usual heuristic (the least sum of
 * absolute differences among None, Sub, Up and Paeth).
 */
function filteredRows({ width, height, channels, data }: PngPixels): Uint8Array {
  const stride = width * channels;
  const out = new Uint8Array(height * (stride + 1));
  const candidate = new Uint8Array(stride);
  for (let y = 0; y < height; y++) {
    const row = y * stride;
    const above = (x: number) => (y > 0 ? data[row - stride + x] : 0);
    let bestCost = Infinity;
    for (const filter of FILTERS) {
      let cost = 0;
      for (let x = 0; x < stride; x++) {
        const a = x >= channels ? data[row + x - channels] : 0;
        const b = above(x);
        const c = x >= channels ? above(x - channels) : 0;
        let predictor = 0;
        if (filter === 1) predictor = a;
        else if (filter === 2) predictor = b;
        else if (filter === 4) {
          const p = a + b - c;
          const pa = Math.abs(p - a);
          const pb = Math.abs(p - b);
          const pc = Math.abs(p - c);
          predictor = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
        }
        const v = (data[row + x] - predictor) & 0xff;
        candidate[x] = v;
        cost += v < 128 ? v : 256 - v;
      }
      if (cost < bestCost) {
        bestCost = cost;
        out[y * (stride + 1)] = filter;
        out.set(candidate, y * (stride + 1) + 1);
      }
    }
  }
  return out;
}

/**
 * A PNG file of 8-bit pixels in their own colour type (grey stays one byte a pixel), compressed by `compress`.
 * Needs no canvas and no Blob of the browser's: thousands of thumbnails encode without a handle each.
 */
export async function encodePng(image: PngPixels, compress: ZlibCompress = compressZlib): Promise<Uint8Array> {
  const { width, height, channels, data } = image;
  if (data.length !== width * height * channels) throw new Error(`PNG pixels: ${data.length} bytes, expected ${width}x${height}x${channels}`);
  const idat = await compress(filteredRows(image));
  const chunks: [string, Uint8Array][] = [
    ['IHDR', header(width, height, COLOUR_TYPE[channels])],
    ['IDAT', idat],
    ['IEND', new Uint8Array(0)],
  ];
  const size = 8 + chunks.reduce((n, [, body]) => n + 12 + body.length, 0);
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  out.set([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  let at = 8;
  for (const [type, body] of chunks) {
    view.setUint32(at, body.length);
    for (let k = 0; k < 4; k++) out[at + 4 + k] = type.charCodeAt(k);
    out.set(body, at + 8);
    view.setUint32(at + 8 + body.length, crc32(out, at + 4, at + 8 + body.length));
    at += 12 + body.length;
  }
  return out;
}

function header(width: number, height: number, colourType: number): Uint8Array {
  const bytes = new Uint8Array(13);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, width);
  view.setUint32(4, height);
  // Bit depth 8, the colour type, deflate, adaptive filtering, no interlace.
  bytes.set([8, colourType, 0, 0, 0], 8);
  return bytes;
}
