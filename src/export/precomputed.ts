/**
 * An atlas's first stage without a model: the rows of a precomputed activation file (.npy, rows x dim) read
 * in chunks into the streaming recorder, each row an input with one pooled point, described by its points
 * table (label, text, image per row). The page and the CLI both call `precomputedRecording`; the layout
 * stage (`layoutAtlas`) is the same as for any recording.
 */
import type { InputError, PrecomputedModelInfo, RecordedOf } from '../compute/atlas';
import { StreamRecorder, type UnitSummary } from '../compute/stream/recorder';
import type { ProgressCallback } from '../compute/types';
import { isImageDataUrl } from '../lib/dataUrl';
import { npyDtypeName, npyRowChunks, readNpyHeader, type ByteSource } from './npyRead';
import { checkPointRows, type PointsTable } from './pointsTable';

/** The layer's name in a precomputed atlas: there is no model whose layer it could name. */
export const PRECOMPUTED_LAYER = 'activations';

export interface PrecomputedInput {
  /** The activation file, and its name for messages and the atlas's model name. */
  activations: ByteSource;
  name: string;
  /** Its points table (one row per activation row), and the table's name; null: rows are inputs named by their index. */
  points: PointsTable | null;
  pointsName?: string;
}

export interface PrecomputedOptions {
  seed: number;
  /** Most float32 values the layout's sample may hold (the recorder's default otherwise). */
  maxValues?: number;
  /** Bytes of the file read at a time. */
  chunkBytes?: number;
  onProgress?: ProgressCallback;
  signal?: AbortSignal;
}

export interface PrecomputedRecording {
  /** Carries `units` too: every unit's statistics and top rows over every row of the file, not only the layout's sample. */
  recorded: RecordedOf<'precomputed'>;
  units: UnitSummary;
  errors: InputError[];
}

/**
 * Reads a precomputed activation file and its points table into a recording: every row goes through the
 * streaming recorder (a seeded sample for the layout, every unit's statistics and top rows), so memory holds
 * one chunk of the file and the sample, never the whole file. A points table whose row count differs is refused.
 */
export async function precomputedRecording(input: PrecomputedInput, options: PrecomputedOptions): Promise<PrecomputedRecording> {
  const { activations, name, points } = input;
  const header = await readNpyHeader(activations, name);
  if (points) checkPointRows(points, header.rows, input.pointsName ?? 'the points table', name);
  const { rows, dim } = header;
  const recorder = new StreamRecorder(
    { name: PRECOMPUTED_LAYER, shape: [dim], positionShape: [] },
    { seed: options.seed, ...(options.maxValues !== undefined ? { maxValues: options.maxValues } : {}) },
  );
  options.onProgress?.({ stage: 'record', done: 0, total: rows });
  for await (const chunk of npyRowChunks(activations, header, options.chunkBytes, name)) {
    options.signal?.throwIfAborted();
    for (let r = 0; r < chunk.count; r++) recorder.add(chunk.start + r, -1, chunk.values, r * dim);
    options.onProgress?.({ stage: 'record', done: chunk.start + chunk.count, total: rows });
  }
  const notices = [...(points?.notices ?? [])];
  if (header.dtype !== '<f4') notices.push(`${name} holds ${npyDtypeName(header.dtype)} values; they were converted to float32.`);
  const { table: sampled, units } = recorder.finish(notices);
  // Rows have no key (a text atlas's token) for cells to summarise.
  const { key: _, ...table } = sampled;
  const errors: InputError[] = [];
  const images = points?.image ? pictures(points.image, errors) : undefined;
  const texts = points?.text ?? undefined;
  const model: PrecomputedModelInfo = { name, kind: 'npy', rows, classNames: null };
  const recorded: RecordedOf<'precomputed'> = {
    modality: 'precomputed',
    model,
    previews: { ...(texts ? { texts } : {}), ...(images ? { images } : {}) },
    table,
    layerShape: [dim],
    samplesPerInput: 'pooled',
    names: Array.from({ length: rows }, (_, k) => String(k)),
    labels: points?.label ?? new Array<string | null>(rows).fill(null),
    predicted: new Int32Array(rows).fill(-1),
    probability: new Float32Array(rows),
    notices,
    units,
  };
  return { recorded, units, errors };
}

/** The image column as inline pictures: a value that is not a PNG, JPEG or WebP data URL is listed and left out. */
function pictures(images: (string | null)[], errors: InputError[]): (string | null)[] | undefined {
  const kept = images.map((url, row) => {
    if (url === null || url === '') return null;
    const shown = url.length > 40 ? `${url.slice(0, 40)}…` : url;
    if (isImageDataUrl(url)) return url;
    errors.push({ name: `row ${row}`, reason: `its image is not a PNG, JPEG or WebP data URL (${shown}); the row shows its text or label.` });
    return null;
  });
  return kept.some((url) => url !== null) ? kept : undefined;
}
