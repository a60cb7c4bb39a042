import type { RawImage } from '../model/image/preprocess';
import { bytesToBase64 } from '../lib/base64';

/** The largest pixel buffer decoding has handed out in this worker, and how many images it decoded. */
export const decodeStats = { largestBytes: 0, images: 0 };

/**
 * Decodes an image file in a worker straight to `size` (the model's input): the browser scales while it
 * decodes, so a 12-megapixel photo never sits in memory as full-resolution RGBA plus canvas copies.
 */
export async function decodeImageToSize(blob: Blob, size: { width: number; height: number }): Promise<RawImage> {
  let bitmap: ImageBitmap;
  try {
    bitmap = await createImageBitmap(blob, { resizeWidth: size.width, resizeHeight: size.height, resizeQuality: 'high' });
  } catch {
    throw new Error(blob.type && !blob.type.startsWith('image/') ? `not an image (${blob.type})` : 'not a readable image');
  }
  try {
    const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
    const ctx = canvas.getContext('2d')!;
    ctx.drawImage(bitmap, 0, 0);
    const { data, width, height } = ctx.getImageData(0, 0, bitmap.width, bitmap.height);
    decodeStats.largestBytes = Math.max(decodeStats.largestBytes, data.byteLength);
    decodeStats.images++;
    return { width, height, channels: 4, data };
  } finally {
    bitmap.close();
  }
}

/** A PNG data URL of decoded pixels (1, 3 or 4 channels). */
export async function encodePngDataUrl(image: RawImage): Promise<string> {
  const { width, height, channels, data } = image;
  const rgba = new Uint8ClampedArray(width * height * 4);
  for (let p = 0; p < width * height; p++) {
    const gray = channels < 3;
    rgba[4 * p] = data[p * channels];
    rgba[4 * p + 1] = data[p * channels + (gray ? 0 : 1)];
    rgba[4 * p + 2] = data[p * channels + (gray ? 0 : 2)];
    rgba[4 * p + 3] = channels === 4 ? data[p * 4 + 3] : 255;
  }
  const canvas = new OffscreenCanvas(width, height);
  canvas.getContext('2d')!.putImageData(new ImageData(rgba, width, height), 0, 0);
  const bytes = new Uint8Array(await (await canvas.convertToBlob({ type: 'image/png' })).arrayBuffer());
  return `data:image/png;base64,${bytesToBase64(bytes)}`;
}
