import { yieldToPage } from '../lib/yieldToPage';

/**
 * Decodes thumbnail data URLs into bitmaps (createImageBitmap decodes off the main thread), a batch
 * at a time; a thumbnail that will not decode becomes null and its icon is drawn blank.
 */
export async function decodeThumbnails(urls: readonly string[], signal?: AbortSignal): Promise<(ImageBitmap | null)[]> {
  const out: (ImageBitmap | null)[] = new Array(urls.length).fill(null);
  const batch = 128;
  for (let start = 0; start < urls.length; start += batch) {
    signal?.throwIfAborted();
    await Promise.all(
      urls.slice(start, start + batch).map(async (url, k) => {
        try {
          const blob = await (await fetch(url)).blob();
          out[start + k] = await createImageBitmap(blob);
        } catch {
          out[start + k] = null;
        }
      }),
    );
    await yieldToPage();
  }
  return out;
}
