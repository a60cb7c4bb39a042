import type { PickedFile } from '../lib/inputFiles';

/** Every file in a drop, walking dropped folders so their sub-folder names can become labels. */
export async function droppedFiles(dataTransfer: DataTransfer): Promise<PickedFile[]> {
  const entries = Array.from(dataTransfer.items, (item) => item.webkitGetAsEntry?.() ?? null);
  if (entries.some((e) => e === null)) return Array.from(dataTransfer.files, (file) => ({ file, path: file.name }));
  const out: PickedFile[] = [];
  for (const entry of entries) await walk(entry!, '', out);
  return out;
}

async function walk(entry: FileSystemEntry, parent: string, out: PickedFile[]): Promise<void> {
  const path = parent ? `${parent}/${entry.name}` : entry.name;
  if (entry.isFile) {
    const file = await new Promise<File>((resolve, reject) => (entry as FileSystemFileEntry).file(resolve, reject));
    out.push({ file, path });
    return;
  }
  const reader = (entry as FileSystemDirectoryEntry).createReader();
  // readEntries returns at most about 100 entries per call; read until it comes back empty.
  for (;;) {
    const batch = await new Promise<FileSystemEntry[]>((resolve, reject) => reader.readEntries(resolve, reject));
    if (batch.length === 0) break;
    for (const child of batch) await walk(child, path, out);
  }
}
