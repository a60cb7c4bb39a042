import { imageDataUrlBlob } from '../lib/dataUrl';

/**
 * Decodes the feature visualisations stored in an opened atlas file, keyed as Atlas.icons is. Only inline
 * image data URLs are read, from their own bytes: any other URL is skipped, never fetched. An icon that will
 * not decode is left out, so its cell shows the exemplar.
 */
export async function decodeSavedIcons<B>(icons: Record<string, string>, decode: (blob: Blob) => Promise<B>): Promise<Map<string, B>> {
  const out = new Map<string, B>();
  for (const [key, url] of Object.entries(icons)) {
    try {
      const blob = imageDataUrlBlob(url);
      if (blob) out.set(key, await decode(blob));
    } catch {
      // Unreadable: the cell keeps its exemplar.
    }
  }
  return out;
}
