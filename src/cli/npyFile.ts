import { open, type FileHandle } from 'node:fs/promises';
import type { ByteSource } from '../export/npyRead';
import { messageOf } from '../lib/errors';

/** A file on disk as a byte source for the .npy reader: each read is one positioned read of the handle; `close` releases it. */
export async function fileSource(path: string): Promise<ByteSource & { close(): Promise<void> }> {
  let handle: FileHandle;
  try {
    handle = await open(path, 'r');
  } catch (e) {
    throw new Error(`Cannot open ${path}: ${messageOf(e)}`);
  }
  const { size } = await handle.stat();
  return {
    size,
    async read(offset, length) {
      const bytes = new Uint8Array(Math.max(0, Math.min(length, size - offset)));
      let done = 0;
      while (done < bytes.length) {
        const { bytesRead } = await handle.read(bytes, done, bytes.length - done, offset + done);
        if (bytesRead === 0) break;
        done += bytesRead;
      }
      return done === bytes.length ? bytes : bytes.subarray(0, done);
    },
    close: () => handle.close(),
  };
}
