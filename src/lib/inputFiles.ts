/** A file the user picked or dropped, with its path relative to what they chose (folders included). */
export interface PickedFile {
  file: File;
  path: string;
}

const IMAGE_EXTENSIONS = /\.(png|jpe?g|gif|webp|bmp|avif)$/i;

export function isImageFile(file: { name: string; type: string }): boolean {
  return file.type.startsWith('image/') || IMAGE_EXTENSIONS.test(file.name);
}

export function isJsonFile(file: { name: string; type: string }): boolean {
  return file.type === 'application/json' || /\.json$/i.test(file.name);
}

/**
 * Labels from folder names: each file's label is the folder it sits in, after dropping the one
 * folder that holds everything (the folder the user picked). Files outside any sub-folder get null.
 */
export function labelsFromPaths(paths: readonly string[]): (string | null)[] {
  const parts = paths.map((p) => p.split('/').filter((s) => s.length > 0));
  const first = parts[0]?.[0];
  const sharedRoot = parts.length > 0 && parts.every((p) => p.length >= 2 && p[0] === first);
  return parts.map((p) => {
    const folders = p.slice(sharedRoot ? 1 : 0, -1);
    return folders.length > 0 ? folders[folders.length - 1] : null;
  });
}

/** Files from a file input, keeping the folder path that a webkitdirectory picker gives. */
export function pickedFromInput(files: FileList | null): PickedFile[] {
  return Array.from(files ?? [], (file) => ({ file, path: file.webkitRelativePath || file.name }));
}
