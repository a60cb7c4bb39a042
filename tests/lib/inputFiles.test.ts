import { describe, expect, it } from 'vitest';
import { isImageFile, labelsFromPaths, readTextFiles, type PickedFile } from '../../src/lib/inputFiles';

describe('labelsFromPaths', () => {
  it('labels each file by its sub-folder under the picked folder', () => {
    expect(labelsFromPaths(['pets/cat/1.png', 'pets/dog/2.png', 'pets/3.png'])).toEqual(['cat', 'dog', null]);
  });

  it('treats several dropped folders as the labels themselves', () => {
    expect(labelsFromPaths(['cat/1.png', 'dog/2.png'])).toEqual(['cat', 'dog']);
  });

  it('gives no label to a single folder of files, or to loose files', () => {
    expect(labelsFromPaths(['photos/1.png', 'photos/2.png'])).toEqual([null, null]);
    expect(labelsFromPaths(['1.png', '2.png'])).toEqual([null, null]);
  });

  it('uses the innermost folder for nested sub-folders', () => {
    expect(labelsFromPaths(['data/train/cat/1.png', 'data/train/dog/1.png'])).toEqual(['cat', 'dog']);
  });
});

describe('isImageFile', () => {
  it('goes by MIME type, or by extension when the type is missing', () => {
    expect(isImageFile({ name: 'a.bin', type: 'image/png' })).toBe(true);
    expect(isImageFile({ name: 'a.JPEG', type: '' })).toBe(true);
    expect(isImageFile({ name: 'notes.txt', type: 'text/plain' })).toBe(false);
  });
});

describe('readTextFiles', () => {
  it('reads every file a few at a time; one that cannot be read is named with why, and the rest go on', async () => {
    let reading = 0;
    let most = 0;
    const picked: PickedFile[] = Array.from({ length: 40 }, (_, k) => ({
      path: `notes/${k}.txt`,
      file: {
        name: `${k}.txt`,
        async text() {
          most = Math.max(most, ++reading);
          await new Promise((r) => setTimeout(r, 1));
          reading--;
          if (k === 7) throw new DOMException('The requested file could not be read.', 'NotReadableError');
          return `text ${k}`;
        },
      } as unknown as File,
    }));
    const { texts, failed } = await readTextFiles(picked);
    expect(texts[7]).toBeNull();
    expect(texts.filter((t) => t !== null)).toHaveLength(39);
    expect(texts[39]).toBe('text 39');
    expect(failed).toEqual([{ path: 'notes/7.txt', reason: 'NotReadableError: The requested file could not be read.' }]);
    expect(most).toBeLessThanOrEqual(8);
  });
});
