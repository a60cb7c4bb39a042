import { readFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseSample, readSampleManifest, type Sample } from './sample';

/** public/sample in this checkout (this file lives in src/model/image/). */
export const SAMPLE_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '../../../public/sample');

/** Reads and validates the bundled sample from disk (Node only: tests and the command-line atlas). */
export async function loadSampleFromDisk(dir: string = SAMPLE_DIR): Promise<Sample> {
  const manifestPath = join(dir, 'manifest.json');
  let manifest: unknown;
  try {
    manifest = JSON.parse(await readFile(manifestPath, 'utf8'));
  } catch (err) {
    throw new Error(`Cannot read sample manifest ${manifestPath}: ${(err as Error).message}`);
  }
  const { file } = readSampleManifest(manifest);
  if (!file) throw new Error(`Invalid sample manifest: "file" must name the pixel file (in ${manifestPath})`);
  // basename: the manifest may only point at a file beside itself.
  const bytes = new Uint8Array(await readFile(join(dir, basename(file))));
  return parseSample(manifest, bytes);
}
