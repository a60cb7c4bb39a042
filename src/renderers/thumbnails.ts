import { imageDataUrlBlob } from '../lib/dataUrl';
import { createPacer, PAGE_SLICE_MS } from '../lib/yieldToPage';
import type { InputPreviews } from './types';

/**
 * Decodes thumbnail data URLs into bitmaps. createImageBitmap decodes off the main thread, but making each
 * Blob costs the page about a millisecond, so the loop pauses every few of them; a thumbnail that will not
 * decode becomes null and its icon is drawn blank.
 */
export async function decodeThumbnails(
  urls: readonly string[],
  signal?: AbortSignal,
  onProgress?: (done: number) => void,
): Promise<(ImageBitmap | null)[]> {
  const out: (ImageBitmap | null)[] = new Array(urls.length).fill(null);
  const pacer = createPacer(signal, PAGE_SLICE_MS);
  const pending: Promise<void>[] = [];
  let done = 0;
  try {
    for (let k = 0; k < urls.length; k++) {
      if (pacer.due()) await pacer.pause();
      // Every thumbnail is an image data URL (recorded as PNG, or checked when its file was opened).
      const blob = imageDataUrlBlob(urls[k]);
      pending.push(
        (blob ? createImageBitmap(blob) : Promise.reject(new Error('not an image data URL')))
          .then((bitmap) => {
            out[k] = bitmap;
          })
          .catch(() => undefined)
          .finally(() => {
            if (++done % 100 === 0 || done === urls.length) onProgress?.(done);
          }),
      );
    }
    await Promise.all(pending);
    pacer.check();
  } catch (e) {
    // Cancelled: the bitmaps decoded so far are freed, none is handed out.
    await Promise.all(pending);
    for (const b of out) b?.close();
    throw e;
  }
  return out;
}

/** Decoded thumbnails as an atlas's previews (null where one would not decode or there was none); `close` frees them. */
export class ThumbnailBitmaps implements InputPreviews {
  constructor(readonly bitmaps: (ImageBitmap | null)[]) {}
  get count(): number {
    return this.bitmaps.length;
  }
  close(): void {
    for (const b of this.bitmaps) b?.close();
  }
}
