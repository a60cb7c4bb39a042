import { base64ToBytes } from '../lib/base64';
import { yieldToPage } from '../lib/yieldToPage';

/**
 * Decodes thumbnail data URLs into bitmaps (createImageBitmap decodes off the main thread), a batch
 * at a time; a thumbnail that will not decode becomes null and its icon is drawn blank.
 */
export async function decodeThumbnails(
  urls: readonly string[],
  signal?: AbortSignal,
  onProgress?: (done: number) => void,
): Promise<(ImageBitmap | null)[]> {
  const out: (ImageBitmap | null)[] = new Array(urls.length).fill(null);
  const batch = 128;
  for (let start = 0; start < urls.length; start += batch) {
    signal?.throwIfAborted();
    await Promise.all(
      urls.slice(start, start + batch).map(async (url, k) => {
        try {
          out[start + k] = await createImageBitmap(dataUrlToBlob(url));
        } catch {
          out[start + k] = null;
        }
      }),
    );
    onProgress?.(Math.min(urls.length, start + batch));
    await yieldToPage();
  }
  return out;
}

/** A data URL's bytes as a Blob, without a round trip through fetch. */
function dataUrlToBlob(url: string): Blob {
  const comma = url.indexOf(',');
  const header = url.slice(5, comma);
  const type = header.split(';')[0] || 'application/octet-stream';
  if (!header.endsWith(';base64')) return new Blob([decodeURIComponent(url.slice(comma + 1))], { type });
  return new Blob([base64ToBytes(url.slice(comma + 1))], { type });
}
