import { afterEach, describe, expect, it, vi } from 'vitest';
import { decodeSavedIcons } from '../../src/atlas/savedIcons';
import { isImageDataUrl } from '../../src/lib/dataUrl';

afterEach(() => {
  vi.unstubAllGlobals();
});

describe('icons saved in an atlas file', () => {
  it('decodes inline images from their own bytes and never fetches any other URL', async () => {
    const fetch = vi.fn(async () => new Response(new Uint8Array([1, 2, 3])));
    vi.stubGlobal('fetch', fetch);
    const decoded: { type: string; bytes: number[] }[] = [];
    const icons = await decodeSavedIcons(
      {
        '20:0:0': 'data:image/png;base64,AQID',
        '20:0:1': 'https://tracker.example/icon.png',
        '20:0:2': 'blob:https://example.org/1234',
        '20:0:3': 'data:text/html;base64,PHNjcmlwdD4=',
        '20:0:4': 'data:image/webp;base64,BAU=',
      },
      async (blob) => {
        const entry = { type: blob.type, bytes: [...new Uint8Array(await blob.arrayBuffer())] };
        decoded.push(entry);
        return entry;
      },
    );
    expect(fetch).not.toHaveBeenCalled();
    expect([...icons.keys()]).toEqual(['20:0:0', '20:0:4']);
    expect(decoded).toEqual([
      { type: 'image/png', bytes: [1, 2, 3] },
      { type: 'image/webp', bytes: [4, 5] },
    ]);
  });

  it('leaves out an icon that will not decode', async () => {
    const icons = await decodeSavedIcons({ a: 'data:image/png;base64,AQID', b: 'data:image/jpeg;base64,AQID' }, async (blob) => {
      if (blob.type === 'image/jpeg') throw new Error('corrupt');
      return blob.type;
    });
    expect([...icons]).toEqual([['a', 'image/png']]);
  });
});

describe('isImageDataUrl', () => {
  it('accepts only base64 PNG, JPEG and WebP data URLs', () => {
    for (const url of ['data:image/png;base64,iVBORw0KGgo=', 'data:image/jpeg;base64,/9j/4A==', 'data:image/webp;base64,UklGRg==', 'data:image/png;base64,']) {
      expect(isImageDataUrl(url), url).toBe(true);
    }
    for (const url of [
      'https://example.org/a.png',
      'http://127.0.0.1/a.png',
      'blob:https://example.org/1234',
      'javascript:alert(1)',
      'data:text/html;base64,PHNjcmlwdD4=',
      'data:image/svg+xml;base64,PHN2Zz4=',
      'data:image/png,raw',
      'data:image/png;base64,AA AA',
      ' data:image/png;base64,AAAA',
      'DATA:image/png;base64,AAAA',
      42,
    ]) {
      expect(isImageDataUrl(url), String(url)).toBe(false);
    }
  });
});
