import type { RawImage } from '../model/image/preprocess';
import { bytesToBase64 } from '../lib/base64';
import { createLimiter } from '../lib/concurrency';
import { messageOf } from '../lib/errors';
import { encodePng } from '../lib/png';

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
    // A file that cannot be read at all (moved, deleted, no permission, the browser out of file handles: a
    // NotReadableError) says so instead of passing for an image that does not decode. The whole file is read:
    // a slice of a file that is gone is empty, and reads.
    const unreadable = await blob.arrayBuffer().then(() => null, (e: unknown) => e);
    if (unreadable) throw new Error(`could not be read (${unreadable instanceof DOMException ? `${unreadable.name}: ` : ''}${messageOf(unreadable)})`);
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

/**
 * PNG encodings at once in this worker. The recorder asks for every thumbnail at once: 20,000 canvas encodings
 * in flight (each a Blob in the browser's registry until read back) ran the renderer out of file handles, and
 * every read then failed with a NotReadableError, the whole build with it. Encoding in JavaScript holds no
 * handle and is 4x faster than a canvas for thumbnails; the bound keeps the buffers in flight few.
 */
const PNG_ENCODES_AT_ONCE = 16;
const encodeSlot = createLimiter(PNG_ENCODES_AT_ONCE);

/** A PNG data URL of decoded pixels (1, 3 or 4 channels, kept as they are); a few encode at once, the rest wait their turn. */
export function encodePngDataUrl(image: RawImage): Promise<string> {
  return encodeSlot(async () => `data:image/png;base64,${bytesToBase64(await encodePng(image))}`);
}
