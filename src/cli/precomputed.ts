import { readFile, writeFile } from 'node:fs/promises';
import { basename, dirname, isAbsolute, resolve } from 'node:path';
import sharp from 'sharp';
import { DEFAULT_ATLAS_PARAMS, layoutAtlas, withoutPreviews, withPreviews, type Atlas, type AtlasParams, type InputError, type LayoutScale } from '../compute/atlas';
import type { UnitSummary } from '../compute/stream/recorder';
import type { ProgressCallback } from '../compute/types';
import { isImageDataUrl } from '../lib/dataUrl';
import { messageOf } from '../lib/errors';
import { precomputedRecording } from '../export/precomputed';
import { readPointsTable, writeAtlasPointsParquet, type PointsTable } from '../export/pointsTable';
import { fileSource } from './npyFile';
import { pngBytesDataUrl } from './nodeIo';

/** Edge of the thumbnails made from a points table's image paths and URLs. */
const THUMBNAIL_SIZE = 64;

export interface PrecomputedAtlasOptions {
  /** A NumPy .npy of rows x dim activations (float32; float64 and float16 are converted). */
  activations: string;
  /** A points table (.parquet or .jsonl) with one row per activation row: label, text, image (a data URL, a path beside the table, or a URL). */
  points?: string;
  /** Any parameters left out take DEFAULT_ATLAS_PARAMS; samples per input is always 'pooled' (one point per row of the file). */
  params?: Partial<AtlasParams>;
  /** Most float32 values the layout's sample may hold. */
  maxValues?: number;
  onProgress?: ProgressCallback;
  signal?: AbortSignal;
  /** Threads, and a fit to place the rows into (or a hook that keeps the fit made). */
  scale?: LayoutScale;
}

export interface PrecomputedAtlasResult {
  atlas: Atlas;
  /** Rows whose image could not be read; they show their text or label. */
  errors: InputError[];
  /** Every unit's statistics and top rows over every row of the file. */
  units: UnitSummary;
}

/** Reads a points table by its extension (.parquet, or .jsonl / .json lines); image paths and URLs become PNG thumbnails. */
export async function readPointsFile(path: string, errors: InputError[] = []): Promise<PointsTable> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (e) {
    throw new Error(`Cannot read the points table ${path}: ${messageOf(e)}`);
  }
  const table = await readPointsTable(new Uint8Array(bytes), basename(path));
  if (!table.image) return table;
  return { ...table, image: await inlineImages(table.image, dirname(path), errors) };
}

/** Each image value as a PNG data URL thumbnail: data URLs stay, paths (relative to the table) are read, http(s) URLs fetched. */
async function inlineImages(images: (string | null)[], base: string, errors: InputError[]): Promise<(string | null)[]> {
  const out: (string | null)[] = [];
  for (const [row, value] of images.entries()) {
    if (value === null || value === '' || isImageDataUrl(value)) {
      out.push(value || null);
      continue;
    }
    try {
      let bytes: Uint8Array;
      if (/^https?:\/\//i.test(value)) {
        const response = await fetch(value);
        if (!response.ok) throw new Error(`HTTP ${response.status}`);
        bytes = new Uint8Array(await response.arrayBuffer());
      } else bytes = await readFile(isAbsolute(value) ? value : resolve(base, value));
      const png = await sharp(bytes).rotate().resize(THUMBNAIL_SIZE, THUMBNAIL_SIZE, { fit: 'inside', withoutEnlargement: true }).png().toBuffer();
      out.push(pngBytesDataUrl(png));
    } catch (e) {
      errors.push({ name: `row ${row}`, reason: `its image ${value} could not be read (${messageOf(e)}); the row shows its text or label.` });
      out.push(null);
    }
  }
  return out;
}

/**
 * An atlas from precomputed activations, without a model: reads the .npy in chunks through the streaming
 * recorder, takes labels, texts and images from the points table, and lays out as every atlas is.
 */
export async function buildPrecomputedAtlasInNode(options: PrecomputedAtlasOptions): Promise<PrecomputedAtlasResult> {
  const errors: InputError[] = [];
  const points = options.points !== undefined ? await readPointsFile(options.points, errors) : null;
  const params: AtlasParams = { ...DEFAULT_ATLAS_PARAMS, ...options.params, samplesPerInput: 'pooled' };
  const source = await fileSource(options.activations);
  let recording;
  try {
    recording = await precomputedRecording(
      { activations: source, name: basename(options.activations), points, ...(options.points !== undefined ? { pointsName: basename(options.points) } : {}) },
      { seed: params.seed, maxValues: options.maxValues, onProgress: options.onProgress, signal: options.signal },
    );
  } finally {
    await source.close();
  }
  const { recorded, units } = recording;
  const laid = await layoutAtlas(withoutPreviews(recorded), params, options.onProgress, options.signal, undefined, options.scale);
  return { atlas: withPreviews(laid, recorded), errors: [...errors, ...recording.errors], units };
}

/** Writes an atlas's points table (x, y, cell, input, position, label, text) as Parquet. */
export async function writePointsParquet(atlas: Atlas, path: string): Promise<void> {
  await writeFile(path, new Uint8Array(writeAtlasPointsParquet(atlas)));
}
