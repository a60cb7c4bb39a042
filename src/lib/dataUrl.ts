import { base64ToBytes } from './base64';

/** The only pictures an opened file may carry: PNG, JPEG or WebP bytes inline, so showing them fetches nothing. */
const IMAGE_DATA_URL = /^data:image\/(png|jpeg|webp);base64,[A-Za-z0-9+/]*={0,2}$/;

/** A 1x1 transparent PNG: what stands in for a picture that was dropped. */
export const BLANK_IMAGE_DATA_URL =
  'data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=';

/** Whether `url` is a base64 `data:image/png`, `jpeg` or `webp` URL (not https:, blob:, javascript:, data:text/html...). */
export function isImageDataUrl(url: unknown): url is string {
  return typeof url === 'string' && IMAGE_DATA_URL.test(url);
}

/** The image of such a URL as a Blob of its type, decoded here; null for any other URL, which is never fetched. */
export function imageDataUrlBlob(url: string): Blob | null {
  if (!isImageDataUrl(url)) return null;
  const comma = url.indexOf(',');
  return new Blob([base64ToBytes(url.slice(comma + 1))], { type: url.slice(5, url.indexOf(';')) });
}
