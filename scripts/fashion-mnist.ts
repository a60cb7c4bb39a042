import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';

/** Where the Debian package dataset-fashion-mnist installs the gzip'd IDX files. */
export const FASHION_MNIST_DIR = '/usr/share/datasets/fashion-mnist';

/** Fashion-MNIST class names, indexed by label (Xiao, Rasul, Vollgraf 2017). */
export const FASHION_MNIST_CLASS_NAMES = [
  'T-shirt/top',
  'Trouser',
  'Pullover',
  'Dress',
  'Coat',
  'Sandal',
  'Shirt',
  'Sneaker',
  'Bag',
  'Ankle boot',
] as const;

export type FashionMnistSplit = 'train' | 't10k';

/** One split: images N x 28 x 28 row-major bytes (0 = background), labels 0..9. */
export interface FashionMnistSplitData {
  count: number;
  height: number;
  width: number;
  images: Uint8Array;
  labels: Uint8Array;
}

// IDX magic: two zero bytes, a type code (0x08 = unsigned byte), then the number of dimensions.
const IDX_IMAGES_MAGIC = 0x00000803;
const IDX_LABELS_MAGIC = 0x00000801;

function readGzipIdx(path: string): Buffer {
  if (!existsSync(path)) {
    throw new Error(
      `Fashion-MNIST file not found: ${path}. Install it with \`apt-get install dataset-fashion-mnist\`.`,
    );
  }
  return gunzipSync(readFileSync(path));
}

/** Parses an IDX3 unsigned-byte image file (N x H x W). */
export function parseIdxImages(bytes: Uint8Array, name = 'images'): { count: number; height: number; width: number; images: Uint8Array } {
  if (bytes.length < 16) throw new Error(`${name}: too short for an IDX3 header (${bytes.length} bytes)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = view.getUint32(0, false);
  if (magic !== IDX_IMAGES_MAGIC) {
    throw new Error(`${name}: bad IDX3 magic 0x${magic.toString(16).padStart(8, '0')}, expected 0x00000803`);
  }
  const count = view.getUint32(4, false);
  const height = view.getUint32(8, false);
  const width = view.getUint32(12, false);
  const expected = 16 + count * height * width;
  if (bytes.length !== expected) {
    throw new Error(`${name}: ${bytes.length} bytes, expected ${expected} for ${count}x${height}x${width}`);
  }
  // A plain Uint8Array copy: Buffer.slice would be a view, and callers compare and keep these.
  return { count, height, width, images: new Uint8Array(bytes.subarray(16)) };
}

/** Parses an IDX1 unsigned-byte label file. */
export function parseIdxLabels(bytes: Uint8Array, name = 'labels'): Uint8Array {
  if (bytes.length < 8) throw new Error(`${name}: too short for an IDX1 header (${bytes.length} bytes)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = view.getUint32(0, false);
  if (magic !== IDX_LABELS_MAGIC) {
    throw new Error(`${name}: bad IDX1 magic 0x${magic.toString(16).padStart(8, '0')}, expected 0x00000801`);
  }
  const count = view.getUint32(4, false);
  if (bytes.length !== 8 + count) {
    throw new Error(`${name}: ${bytes.length} bytes, expected ${8 + count} for ${count} labels`);
  }
  return new Uint8Array(bytes.subarray(8));
}

/** True when the Debian dataset files are present. */
export function fashionMnistAvailable(dir = FASHION_MNIST_DIR): boolean {
  return ['train', 't10k'].every(
    (split) =>
      existsSync(join(dir, `${split}-images-idx3-ubyte.gz`)) && existsSync(join(dir, `${split}-labels-idx1-ubyte.gz`)),
  );
}

/** Reads one split ('train': 60,000 images, 't10k': 10,000) from the gzip'd IDX files. */
export function loadFashionMnist(split: FashionMnistSplit, dir = FASHION_MNIST_DIR): FashionMnistSplitData {
  const imagesPath = join(dir, `${split}-images-idx3-ubyte.gz`);
  const labelsPath = join(dir, `${split}-labels-idx1-ubyte.gz`);
  const { count, height, width, images } = parseIdxImages(readGzipIdx(imagesPath), imagesPath);
  const labels = parseIdxLabels(readGzipIdx(labelsPath), labelsPath);
  if (labels.length !== count) {
    throw new Error(`${split}: ${count} images but ${labels.length} labels`);
  }
  for (let i = 0; i < labels.length; i++) {
    if (labels[i] >= FASHION_MNIST_CLASS_NAMES.length) {
      throw new Error(`${labelsPath}: label ${labels[i]} at index ${i} is out of range 0..9`);
    }
  }
  return { count, height, width, images, labels };
}
