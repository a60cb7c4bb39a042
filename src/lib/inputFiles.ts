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

/** Text files read at once: each read holds a file handle until it ends (a folder of 20,000 would run out of them). */
const TEXT_READS_AT_ONCE = 8;

/**
 * Reads picked text files, a few at a time; `texts[k]` is file k's text, or null where it could not be read
 * (moved, no permission, a NotReadableError), with why in `failed`: the rest go on.
 */
export async function readTextFiles(files: readonly PickedFile[]): Promise<{ texts: (string | null)[]; failed: { path: string; reason: string }[] }> {
  const texts: (string | null)[] = new Array(files.length).fill(null);
  const failed: { path: string; reason: string }[] = [];
  let next = 0;
  const reader = async () => {
    for (let k = next++; k < files.length; k = next++) {
      try {
        texts[k] = await files[k].file.text();
      } catch (e) {
        failed.push({ path: files[k].path, reason: e instanceof Error ? `${e.name}: ${e.message}` : String(e) });
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(TEXT_READS_AT_ONCE, files.length) }, reader));
  return { texts, failed };
}
