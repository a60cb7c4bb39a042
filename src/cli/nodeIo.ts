import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, join, relative, sep } from 'node:path';
import sharp from 'sharp';
import { assembleArtifacts, ModelFileError } from '../model/image/artifacts';
import type { RawImage } from '../model/image/preprocess';
import type { ImageProvider } from '../model/image/recordImages';
import type { TextFile } from '../model/text/documents';
import type { ModelFile } from '../model/text/textModel';
import type * as tf from '@tensorflow/tfjs';

/** Reads a TF.js model directory (model.json + shards) or a model.json path. */
export async function artifactsFromDirectory(path: string): Promise<{ artifacts: tf.io.ModelArtifacts; name: string }> {
  const info = await stat(path).catch(() => null);
  if (!info) throw new ModelFileError(`Model path ${path} does not exist.`);
  const dir = info.isDirectory() ? path : join(path, '..');
  const jsonPath = info.isDirectory() ? join(path, 'model.json') : path;
  const text = await readFile(jsonPath, 'utf8').catch(() => {
    throw new ModelFileError(`No model.json in ${dir}.`);
  });
  const artifacts = await assembleArtifacts(
    text,
    async (name) => {
      const bytes = await readFile(join(dir, name)).catch(() => null);
      return bytes ? bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) : null;
    },
    jsonPath,
  );
  return { artifacts, name: basename(info.isDirectory() ? path : dir) };
}

async function walk(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  const files: string[] = [];
  for (const e of entries.sort((a, b) => a.name.localeCompare(b.name))) {
    if (e.name.startsWith('.')) continue;
    const full = join(dir, e.name);
    if (e.isDirectory()) files.push(...(await walk(full)));
    else if (e.isFile()) files.push(full);
  }
  return files;
}

/** Decodes any image sharp reads (JPEG, PNG, WebP, GIF, AVIF, TIFF) to 8-bit pixels. */
export async function decodeImageFile(path: string): Promise<RawImage> {
  const { data, info } = await sharp(path, { failOn: 'error' }).rotate().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
  if (info.channels < 1 || info.channels > 4) throw new Error(`unsupported ${info.channels}-channel image`);
  return { width: info.width, height: info.height, channels: info.channels as RawImage['channels'], data: new Uint8Array(data) };
}

/**
 * Every file under `dir` as an input; a file in a sub-folder takes the sub-folder's name as its label
 * (the ImageFolder convention). Files that do not decode are reported by the recorder, not fatal.
 */
export async function folderProvider(dir: string): Promise<ImageProvider> {
  const info = await stat(dir).catch(() => null);
  if (!info?.isDirectory()) throw new Error(`Image folder ${dir} does not exist or is not a folder.`);
  const files = await walk(dir);
  const labels = files.map((f) => {
    const parts = relative(dir, f).split(sep);
    return parts.length > 1 ? parts[0] : null;
  });
  return {
    count: files.length,
    name: (i) => relative(dir, files[i]),
    label: (i) => labels[i],
    load: (i) => decodeImageFile(files[i]).catch((e: Error) => {
      throw new Error(`not a readable image (${e.message.split('\n')[0]})`);
    }),
  };
}

/** A PNG data URL of decoded pixels, for atlas thumbnails. */
export async function pngDataUrl(image: RawImage): Promise<string> {
  const png = await sharp(Buffer.from(image.data.buffer, image.data.byteOffset, image.data.byteLength), {
    raw: { width: image.width, height: image.height, channels: image.channels },
  })
    .png({ compressionLevel: 9 })
    .toBuffer();
  return pngBytesDataUrl(png);
}

/** A data URL of PNG bytes. */
export const pngBytesDataUrl = (png: Buffer): string => `data:image/png;base64,${png.toString('base64')}`;

/** Class names from a text file: one per line, or WordNet synset lines ("n01440764 tench, Tinca tinca"). */
export async function readClassNames(path: string): Promise<string[]> {
  const lines = (await readFile(path, 'utf8')).split(/\r?\n/).filter((l) => l.trim());
  return lines.map((l) => {
    const m = /^n\d{8}\s+(.*)$/.exec(l.trim());
    return (m ? m[1].split(',')[0] : l).trim();
  });
}

/** Whether a folder holds a Hugging Face checkpoint (config.json) rather than a TF.js model (model.json). */
export async function isTextModelFolder(dir: string): Promise<boolean> {
  const has = (name: string) => stat(join(dir, name)).then((i) => i.isFile(), () => false);
  return (await has('config.json')) && !(await has('model.json'));
}

/**
 * The files of a GPT-2 checkpoint folder: config.json with model.safetensors, or with
 * model.safetensors.index.json and the shards it names. Missing ones are left for the loader to name.
 */
export async function textModelFiles(dir: string): Promise<ModelFile[]> {
  const info = await stat(dir).catch(() => null);
  if (!info?.isDirectory()) throw new ModelFileError(`Text model folder ${dir} does not exist or is not a folder.`);
  const read = async (name: string): Promise<ModelFile[]> => {
    const bytes = await readFile(join(dir, name)).catch(() => null);
    return bytes ? [{ name, bytes }] : [];
  };
  const files = [...(await read('config.json')), ...(await read('model.safetensors'))];
  if (files.some((f) => f.name === 'model.safetensors')) return files;
  const index = await read('model.safetensors.index.json');
  if (index.length === 0) return files;
  const shards = await Promise.all(shardNames(index[0].bytes as Uint8Array).map(read));
  return [...files, ...index, ...shards.flat()];
}

/** The shard files an index's weight_map names; none when it cannot be read (the loader says why). */
function shardNames(indexBytes: Uint8Array): string[] {
  try {
    const { weight_map: weightMap } = JSON.parse(new TextDecoder().decode(indexBytes)) as { weight_map?: Record<string, unknown> };
    return [...new Set(Object.values(weightMap ?? {}).filter((v): v is string => typeof v === 'string' && basename(v) === v))];
  } catch {
    return [];
  }
}

/** The files of --text: one file, or every file under a folder with its path relative to the folder (sub-folders are labels). */
export async function textFilesFromPath(path: string): Promise<TextFile[]> {
  const info = await stat(path).catch(() => null);
  if (!info) throw new Error(`Text input ${path} does not exist.`);
  if (info.isFile()) return [{ path: basename(path), bytes: await readFile(path) }];
  const files = await walk(path);
  return Promise.all(files.map(async (f) => ({ path: relative(path, f).split(sep).join('/'), bytes: await readFile(f) })));
}
