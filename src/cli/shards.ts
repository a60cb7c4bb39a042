/**
 * Recording split over processes: which slice of the inputs a shard records, the shard folder it writes (a
 * manifest, the inputs, and the stream's state), and the merge that checks every shard and adds them up into
 * one recording, which then takes the same layout stage as a recording made in one process.
 */
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { AtlasParams, InputError, Modality, ModalityModels, PositionSampling, Previews, RecordedColumns } from '../compute/atlas';
import { isSampleNotice, StreamRecorder, type StreamLayer, type StreamState } from '../compute/stream/recorder';
import { WINDOWS_PER_DOCUMENT } from '../compute/stream/rowOrder';
import { splitNotice } from '../model/text/documents';
import { wholeNumber } from '../lib/validate';

export const SHARD_FORMAT = 'activation-atlas-shard';
export const SHARD_VERSION = 1;

/** The I-th of N slices of a recording's inputs. */
export interface ShardSpec {
  index: number;
  count: number;
}

/** Where each engine puts a task's index (and, for Cloud Run, the count). */
const ENGINES = [
  { variable: 'JOB_COMPLETION_INDEX', engine: 'Kubernetes Indexed Job', countVariable: null },
  { variable: 'CLOUD_RUN_TASK_INDEX', engine: 'Cloud Run job', countVariable: 'CLOUD_RUN_TASK_COUNT' },
  { variable: 'AWS_BATCH_JOB_ARRAY_INDEX', engine: 'AWS Batch array job', countVariable: null },
] as const;


/**
 * The shard asked for: `I/N`, or `auto`, which takes I from the engine's variable (JOB_COMPLETION_INDEX,
 * CLOUD_RUN_TASK_INDEX, AWS_BATCH_JOB_ARRAY_INDEX) and N from CLOUD_RUN_TASK_COUNT or `--shards`.
 */
export function parseShard(value: string, shards: string | undefined, env: Record<string, string | undefined>): ShardSpec & { engine: string } {
  let spec: ShardSpec & { engine: string };
  if (value === 'auto') {
    const found = ENGINES.find((e) => env[e.variable] !== undefined);
    if (!found) {
      throw new Error(`--shard auto: none of ${ENGINES.map((e) => `${e.variable} (${e.engine})`).join(', ')} is set; pass --shard I/N instead.`);
    }
    const index = wholeNumber(env[found.variable] ?? '', found.variable, 0);
    const countText = found.countVariable ? env[found.countVariable] : undefined;
    if (countText === undefined && shards === undefined) throw new Error(`--shard auto in a ${found.engine} needs --shards N: the engine does not say how many tasks there are.`);
    const count = wholeNumber(countText ?? shards ?? '', found.countVariable && countText !== undefined ? found.countVariable : '--shards', 0);
    if (countText !== undefined && shards !== undefined && wholeNumber(shards, '--shards', 0) !== count) {
      throw new Error(`--shards ${shards} disagrees with ${found.countVariable}=${countText}.`);
    }
    spec = { index, count, engine: found.engine };
  } else {
    const match = /^(\d+)\/(\d+)$/.exec(value);
    if (!match) throw new Error(`--shard must be I/N (e.g. 0/4) or auto; got "${value}".`);
    spec = { index: Number(match[1]), count: Number(match[2]), engine: 'command line' };
  }
  if (spec.count < 1 || spec.index >= spec.count) throw new Error(`Shard ${spec.index} of ${spec.count} does not exist: shards are numbered 0 to N-1.`);
  return spec;
}

export const shardFolderName = ({ index, count }: ShardSpec) => `shard-${index}-of-${count}`;

/** What makes shards parts of one recording: they must agree on all of it to be merged. */
export interface ShardIdentity {
  /** A hash of the model's weights. */
  fingerprint: string;
  modality: Modality;
  model: ModalityModels[Modality];
  layer: StreamLayer;
  /** The layer's output shape without the batch dimension. */
  layerShape: number[];
  /** What was recorded ('pooled' where the layer has no positions). */
  samplesPerInput: PositionSampling;
  params: AtlasParams;
  sampleRows: number;
  unitTopK: number;
  covariance: boolean;
}

interface ArrayEntry {
  name: string;
  type: 'float32' | 'float64' | 'int32' | 'uint32';
  length: number;
  byteOffset: number;
}

export interface ShardManifest {
  format: typeof SHARD_FORMAT;
  version: typeof SHARD_VERSION;
  shard: ShardSpec;
  identity: ShardIdentity;
  rows: number;
  inputs: number;
  /** The stream's arrays in state.bin, and its length. */
  arrays: ArrayEntry[];
  stateBytes: number;
  /** Each part of the stream's plain fields (its sizes); its layer and seed are the identity's. */
  parts: Record<Part, Record<string, unknown> | null>;
  notices: string[];
  errors: InputError[];
  created: string;
}

/** Per-input columns of a shard, with each input's ordinal among all the recording's inputs. */
export interface ShardInputs {
  ordinals: readonly number[];
  names: string[];
  labels: (string | null)[];
  predicted: number[];
  probability: number[];
  previews: Previews;
}

type TypedArray = Float32Array | Float64Array | Int32Array | Uint32Array;
const TYPES = { float32: Float32Array, float64: Float64Array, int32: Int32Array, uint32: Uint32Array } as const;
const typeOf = (a: TypedArray): ArrayEntry['type'] =>
  a instanceof Float32Array ? 'float32' : a instanceof Float64Array ? 'float64' : a instanceof Int32Array ? 'int32' : 'uint32';

const PARTS = ['sample', 'top', 'stats', 'moments'] as const;
type Part = (typeof PARTS)[number];

/** A stream state's parts split into their arrays (by "part.field", in a fixed order) and their plain fields. */
function splitState(state: StreamState): { arrays: [string, TypedArray][]; scalars: Record<Part, Record<string, unknown> | null> } {
  const arrays: [string, TypedArray][] = [];
  const scalars = {} as Record<Part, Record<string, unknown> | null>;
  for (const part of PARTS) {
    const fields = state[part] as unknown as Record<string, unknown> | null;
    scalars[part] = fields && {};
    if (!fields) continue;
    for (const [field, value] of Object.entries(fields)) {
      if (ArrayBuffer.isView(value)) arrays.push([`${part}.${field}`, value as TypedArray]);
      else scalars[part]![field] = value;
    }
  }
  return { arrays, scalars };
}

/**
 * Writes a shard folder under `dir`: to a temporary name first, renamed when complete, so a shard that dies
 * leaves no folder a merge would take, and a rerun of one shard replaces it.
 */
export async function writeShard(
  dir: string,
  shard: ShardSpec,
  content: { identity: ShardIdentity; state: StreamState; inputs: ShardInputs; notices: string[]; errors: InputError[] },
  /** Files written beside the recording (its activations), moved into the folder under their base names. */
  extraFiles: { path: string; name: string }[] = [],
): Promise<string> {
  await mkdir(dir, { recursive: true });
  const final = join(dir, shardFolderName(shard));
  const temporary = join(dir, `.${shardFolderName(shard)}.tmp-${process.pid}`);
  await rm(temporary, { recursive: true, force: true });
  await mkdir(temporary);
  const split = splitState(content.state);
  const arrays: ArrayEntry[] = [];
  let byteOffset = 0;
  for (const [name, array] of split.arrays) {
    arrays.push({ name, type: typeOf(array), length: array.length, byteOffset });
    byteOffset += Math.ceil(array.byteLength / 8) * 8;
  }
  const bytes = new Uint8Array(byteOffset);
  split.arrays.forEach(([, array], k) => bytes.set(new Uint8Array(array.buffer, array.byteOffset, array.byteLength), arrays[k].byteOffset));
  await writeFile(join(temporary, 'state.bin'), bytes);
  await writeFile(join(temporary, 'inputs.json'), JSON.stringify(content.inputs));
  const manifest: ShardManifest = {
    format: SHARD_FORMAT,
    version: SHARD_VERSION,
    shard: { index: shard.index, count: shard.count },
    identity: content.identity,
    rows: content.state.rows,
    inputs: content.inputs.names.length,
    arrays,
    stateBytes: bytes.length,
    notices: content.notices.filter((n) => !isSampleNotice(n)),
    errors: content.errors,
    created: new Date().toISOString(),
    parts: split.scalars,
  };
  for (const file of extraFiles) await rename(file.path, join(temporary, file.name));
  // The manifest is written last: a folder without one never finished.
  await writeFile(join(temporary, 'manifest.json'), JSON.stringify(manifest, null, 1));
  await rm(final, { recursive: true, force: true });
  await rename(temporary, final);
  return final;
}

/** A shard folder as read back: its manifest, inputs and stream state. */
export interface ShardRead {
  folder: string;
  manifest: ShardManifest;
  inputs: ShardInputs;
  state: StreamState;
}

/** Reads and checks one shard folder; a missing or short file is named. */
export async function readShard(folder: string): Promise<ShardRead> {
  const manifestText = await readFile(join(folder, 'manifest.json'), 'utf8').catch(() => null);
  if (manifestText === null) throw new Error(`${folder} has no manifest.json: that shard did not finish (rerun it alone).`);
  let manifest: ShardManifest;
  try {
    manifest = JSON.parse(manifestText);
  } catch {
    throw new Error(`${folder}/manifest.json is not valid JSON: the shard is damaged (rerun it alone).`);
  }
  if (manifest.format !== SHARD_FORMAT || manifest.version !== SHARD_VERSION) {
    throw new Error(`${folder} is not a version-${SHARD_VERSION} ${SHARD_FORMAT} folder (format ${JSON.stringify(manifest.format)}, version ${JSON.stringify(manifest.version)}).`);
  }
  const bytes = await readFile(join(folder, 'state.bin')).catch(() => null);
  if (!bytes || bytes.length !== manifest.stateBytes) {
    throw new Error(`${folder}/state.bin is ${bytes ? `${bytes.length.toLocaleString('en')} bytes` : 'missing'}, not the ${manifest.stateBytes.toLocaleString('en')} its manifest lists: the shard is truncated (rerun it alone).`);
  }
  let inputs: ShardInputs;
  try {
    inputs = JSON.parse(await readFile(join(folder, 'inputs.json'), 'utf8'));
  } catch {
    throw new Error(`${folder}/inputs.json is missing or not valid JSON: the shard is truncated (rerun it alone).`);
  }
  if (inputs.names?.length !== manifest.inputs || inputs.ordinals?.length !== manifest.inputs) {
    throw new Error(`${folder}/inputs.json lists ${inputs.names?.length ?? 'no'} inputs, not the ${manifest.inputs} its manifest lists: the shard is damaged (rerun it alone).`);
  }
  // Arrays sit at multiples of 8 bytes in the file; copied only where the buffer itself is not so aligned.
  const aligned = bytes.byteOffset % 8 === 0 ? bytes : new Uint8Array(bytes);
  const arrays = new Map<string, TypedArray>();
  for (const entry of manifest.arrays) arrays.set(entry.name, new TYPES[entry.type](aligned.buffer, aligned.byteOffset + entry.byteOffset, entry.length));
  const part = (name: Part) => {
    const scalars = manifest.parts[name];
    if (!scalars) return null;
    const fields: Record<string, unknown> = { ...scalars };
    for (const [key, array] of arrays) if (key.startsWith(`${name}.`)) fields[key.slice(name.length + 1)] = array;
    return fields;
  };
  const state = {
    layer: manifest.identity.layer,
    seed: manifest.identity.params.seed,
    rows: manifest.rows,
    sample: part('sample'),
    top: part('top'),
    stats: part('stats'),
    moments: part('moments'),
  } as unknown as StreamState;
  return { folder, manifest, inputs, state };
}

const SHARD_FOLDER = /^shard-(\d+)-of-(\d+)$/;

/** Which part of two shards' identities differs, in words. */
function difference(a: ShardIdentity, b: ShardIdentity): string | null {
  if (a.fingerprint !== b.fingerprint || a.modality !== b.modality) return `another model (${b.model.name}, weights ${b.fingerprint.slice(0, 12)}, against ${a.model.name}, ${a.fingerprint.slice(0, 12)})`;
  if (JSON.stringify(a.layer) !== JSON.stringify(b.layer)) return `another layer (${b.layer.name} against ${a.layer.name})`;
  for (const key of ['params', 'samplesPerInput', 'sampleRows', 'unitTopK', 'covariance'] as const) {
    if (JSON.stringify(a[key]) !== JSON.stringify(b[key])) return `other parameters (${key}: ${JSON.stringify(b[key])} against ${JSON.stringify(a[key])})`;
  }
  return null;
}

/** The shard folders in `dir`: every sub-folder named shard-I-of-N or holding a manifest. */
async function shardFolders(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => {
    throw new Error(`Shard folder ${dir} does not exist.`);
  });
  const folders: string[] = [];
  for (const e of entries.sort((a, b) => a.name.localeCompare(b.name, 'en', { numeric: true }))) {
    if (!e.isDirectory() || e.name.startsWith('.')) continue;
    const full = join(dir, e.name);
    if (SHARD_FOLDER.test(e.name) || (await stat(join(full, 'manifest.json')).catch(() => null))) folders.push(full);
  }
  if (folders.length === 0) throw new Error(`No shard folders (shard-I-of-N) in ${dir}: record them with --shard I/N --out ${dir}.`);
  return folders;
}

/** A recording merged from shards: the columns the layout stage takes, the inputs that failed, and the stream. */
export interface MergedShards {
  recorded: RecordedColumns;
  errors: InputError[];
  stream: StreamRecorder;
  identity: ShardIdentity;
  shards: number;
}

/**
 * Reads every shard in `dir`, refuses a missing, duplicated, truncated or foreign one by name, and merges
 * them: exact top rows and statistics, the seeded sample, the inputs in their global order. The result is
 * the recording one process would have made with the same seed.
 */
export async function mergeShards(dir: string): Promise<MergedShards> {
  const shards = await Promise.all((await shardFolders(dir)).map(readShard));
  const first = shards[0];
  const { identity } = first.manifest;
  const count = first.manifest.shard.count;
  const byIndex = new Map<number, ShardRead>();
  for (const shard of shards) {
    const { index, count: n } = shard.manifest.shard;
    if (n !== count) throw new Error(`${shard.folder} is shard ${index} of ${n}, but ${first.folder} is one of ${count}: these are not parts of one run.`);
    const differs = difference(identity, shard.manifest.identity);
    if (differs) throw new Error(`${shard.folder} was recorded with ${differs}: it is not part of the run in ${first.folder}.`);
    const twin = byIndex.get(index);
    if (twin) throw new Error(`Shard ${index} of ${count} appears twice: ${twin.folder} and ${shard.folder}. Keep one.`);
    byIndex.set(index, shard);
  }
  const missing = Array.from({ length: count }, (_, i) => i).filter((i) => !byIndex.has(i));
  if (missing.length) {
    throw new Error(`Missing ${missing.length} of ${count} shards in ${dir}: ${missing.map((index) => shardFolderName({ index, count })).join(', ')}. Run them (--shard I/${count}) before merging.`);
  }
  const ordered = [...byIndex.keys()].sort((a, b) => a - b).map((i) => byIndex.get(i)!);

  const stream = new StreamRecorder(identity.layer, {
    seed: identity.params.seed,
    sampleRows: identity.sampleRows,
    unitTopK: identity.unitTopK,
    covariance: identity.covariance,
    keyed: identity.modality === 'text' && identity.samplesPerInput !== 'pooled',
  });
  for (const shard of ordered) stream.merge(shard.state);

  const inputs = ordered.flatMap((shard) => shard.inputs.ordinals.map((ordinal, k) => ({ shard: shard.inputs, k, ordinal })));
  inputs.sort((a, b) => a.ordinal - b.ordinal);
  for (let k = 1; k < inputs.length; k++) {
    if (inputs[k].ordinal === inputs[k - 1].ordinal) throw new Error(`Two shards recorded the same input (${inputs[k].shard.names[inputs[k].k]}): they overlap, so they are not slices of one run.`);
  }
  const column = <T>(get: (s: ShardInputs) => T[]) => inputs.map(({ shard, k }) => get(shard)[k]);
  const previewFields = Object.keys(first.inputs.previews) as (keyof Previews)[];
  const previews = Object.fromEntries(previewFields.map((field) => [field, column((s) => (s.previews as Record<string, unknown[]>)[field])])) as Previews;
  const ordinals = inputs.map((i) => i.ordinal);

  const notices = mergedNotices(ordered.map((s) => s.manifest.notices), identity, ordinals);
  const { table, units } = stream.finish(notices, ordinals);
  const recorded = {
    modality: identity.modality,
    model: identity.model,
    previews,
    table,
    layerShape: identity.layerShape,
    samplesPerInput: identity.samplesPerInput,
    names: column((s) => s.names),
    labels: column((s) => s.labels),
    predicted: Int32Array.from(column((s) => s.predicted)),
    probability: Float32Array.from(column((s) => s.probability)),
    notices,
    units,
  } as RecordedColumns;
  return { recorded, errors: ordered.flatMap((s) => s.manifest.errors), stream, identity, shards: count };
}

const SPLIT_NOTICE = /longer than the model's context of/;

/**
 * The shards' notices once each (in the order the first shard to give one gave it), with the text split
 * notice counted again over every shard's windows, as one process would have counted them.
 */
function mergedNotices(perShard: string[][], identity: ShardIdentity, ordinals: number[]): string[] {
  const notices = [...new Set(perShard.flat())];
  if (identity.modality !== 'text' || !notices.some((n) => SPLIT_NOTICE.test(n))) return notices;
  const windows = new Map<number, number>();
  for (const ordinal of ordinals) {
    const document = Math.floor(ordinal / WINDOWS_PER_DOCUMENT);
    windows.set(document, (windows.get(document) ?? 0) + 1);
  }
  const split = [...windows.values()].filter((n) => n > 1);
  const contextLength = (identity.model as ModalityModels['text']).contextLength;
  const recounted = splitNotice(split.length, split.reduce((a, b) => a + b, 0), contextLength);
  const at = notices.findIndex((n) => SPLIT_NOTICE.test(n));
  return notices.filter((n, k) => !SPLIT_NOTICE.test(n) || k === at).map((n) => (SPLIT_NOTICE.test(n) ? recounted : n));
}
