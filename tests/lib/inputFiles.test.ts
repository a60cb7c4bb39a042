import { describe, expect, it } from 'vitest';
import { isImageFile, labelsFromPaths } from '../../src/lib/inputFiles';

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
