import type * as tf from '@tensorflow/tfjs';
import * as v from 'valibot';
import { parseOrFail } from '../../lib/validate';

/** A model.json and its weight shards could not be assembled; the message names the file at fault. */
export class ModelFileError extends Error {
  override name = 'ModelFileError';
}

const DTYPE_BYTES: Record<string, number> = { float32: 4, int32: 4, bool: 1, uint8: 1, uint16: 2, float16: 2, complex64: 8, string: 0 };

/** A JSON object (valibot's object schemas also take arrays). */
const jsonObject = v.custom<Record<string, unknown>>(
  (x) => typeof x === 'object' && x !== null && !Array.isArray(x),
  (issue) => `Invalid type: Expected an object but received ${issue.received}`,
);

const weightSpecSchema = v.looseObject({
  name: v.string(),
  shape: v.array(v.pipe(v.number(), v.safeInteger(), v.minValue(0))),
  dtype: v.picklist(['float32', 'int32', 'bool', 'string', 'complex64']),
  group: v.optional(v.picklist(['model', 'optimizer'])),
  quantization: v.optional(
    v.looseObject({ dtype: v.picklist(['uint8', 'uint16', 'float16']), scale: v.optional(v.pipe(v.number(), v.finite())), min: v.optional(v.pipe(v.number(), v.finite())) }),
  ),
}) satisfies v.GenericSchema<tf.io.WeightsManifestEntry>;

/** A TF.js model.json as this app reads it; the topology itself is checked by TF.js when the model is built. */
const modelJsonSchema = v.looseObject({
  modelTopology: jsonObject,
  format: v.optional(v.string()),
  generatedBy: v.optional(v.string()),
  convertedBy: v.optional(v.nullable(v.string())),
  weightsManifest: v.optional(v.array(v.looseObject({ paths: v.array(v.pipe(v.string(), v.nonEmpty())), weights: v.array(weightSpecSchema) })), []),
  userDefinedMetadata: v.optional(jsonObject),
  signature: v.optional(jsonObject),
  modelInitializer: v.optional(jsonObject),
});

/** Bytes a weights group should hold according to its specs (quantised weights included). */
export function expectedWeightBytes(weights: tf.io.WeightsManifestEntry[]): number {
  let total = 0;
  for (const w of weights) {
    const size = w.shape.reduce((a, b) => a * b, 1);
    const dtype = w.quantization?.dtype ?? w.dtype;
    total += size * (DTYPE_BYTES[dtype] ?? 4);
  }
  return total;
}

const basename = (path: string) => path.split('/').pop() ?? path;

/**
 * Builds ModelArtifacts from the text of a model.json and a reader of its shards.
 * `readShard` returns null when the file is absent; a missing or short shard is named in the error.
 */
export async function assembleArtifacts(
  modelJsonText: string,
  readShard: (name: string) => Promise<ArrayBuffer | null>,
  source: string,
): Promise<tf.io.ModelArtifacts> {
  let raw: unknown;
  try {
    raw = JSON.parse(modelJsonText);
  } catch (e) {
    throw new ModelFileError(`${source} is not valid JSON (${(e as Error).message}).`);
  }
  if (!raw || typeof raw !== 'object' || !(raw as { modelTopology?: unknown }).modelTopology) {
    throw new ModelFileError(`${source} is not a TF.js model.json: it has no "modelTopology".`);
  }
  const json = parseOrFail(modelJsonSchema, raw, (problems) => new ModelFileError(`${source}: ${problems}.`));
  const manifest = json.weightsManifest;
  const specs: tf.io.WeightsManifestEntry[] = [];
  const buffers: Uint8Array[] = [];
  for (const group of manifest) {
    const parts: Uint8Array[] = [];
    for (const path of group.paths) {
      const name = basename(path);
      const data = await readShard(name);
      if (!data) throw new ModelFileError(`Weight file "${name}" named in ${source} is missing: pick it together with model.json.`);
      parts.push(new Uint8Array(data));
    }
    const got = parts.reduce((a, p) => a + p.byteLength, 0);
    const want = expectedWeightBytes(group.weights);
    if (got < want) {
      const names = group.paths.map(basename).join(', ');
      throw new ModelFileError(`Weight file ${names} is short: ${got} bytes where ${source} describes ${want}; it is truncated or from another model.`);
    }
    specs.push(...group.weights);
    buffers.push(...parts);
  }
  const total = buffers.reduce((a, b) => a + b.byteLength, 0);
  const weightData = new Uint8Array(total);
  let offset = 0;
  for (const b of buffers) {
    weightData.set(b, offset);
    offset += b.byteLength;
  }
  return {
    modelTopology: json.modelTopology,
    format: json.format,
    generatedBy: json.generatedBy,
    convertedBy: json.convertedBy,
    weightSpecs: specs,
    weightData: weightData.buffer,
    userDefinedMetadata: json.userDefinedMetadata as tf.io.ModelArtifacts['userDefinedMetadata'],
    signature: json.signature,
    modelInitializer: json.modelInitializer,
  };
}

/** Artifacts from user-picked files: one model.json plus its shards, matched by file name. */
export async function artifactsFromFiles(files: File[]): Promise<{ artifacts: tf.io.ModelArtifacts; name: string }> {
  const jsons = files.filter((f) => f.name.toLowerCase().endsWith('.json'));
  if (jsons.length === 0) throw new ModelFileError('No model.json among the picked files: pick model.json and its .bin weight files.');
  if (jsons.length > 1) throw new ModelFileError(`Several .json files were picked (${jsons.map((f) => f.name).join(', ')}): pick one model.json.`);
  const modelJson = jsons[0];
  const byName = new Map(files.map((f) => [f.name, f]));
  const artifacts = await assembleArtifacts(
    await modelJson.text(),
    async (name) => (byName.has(name) ? byName.get(name)!.arrayBuffer() : null),
    modelJson.name,
  );
  return { artifacts, name: modelJson.name.replace(/\.json$/i, '') };
}

/** Artifacts from a URL of a model.json; shards are fetched beside it. */
export async function artifactsFromUrl(
  url: string,
  fetchFn: typeof fetch = fetch,
  resolveShard: (name: string) => string = (name) => new URL(name, new URL(url, globalThis.location?.href)).toString(),
): Promise<tf.io.ModelArtifacts> {
  let response: Response;
  try {
    response = await fetchFn(url);
  } catch (e) {
    throw new ModelFileError(`Could not fetch ${url}: ${(e as Error).message}.`);
  }
  if (!response.ok) throw new ModelFileError(`Could not fetch ${url}: HTTP ${response.status}.`);
  return assembleArtifacts(
    await response.text(),
    async (name) => {
      const shardUrl = resolveShard(name);
      const r = await fetchFn(shardUrl).catch(() => null);
      return r && r.ok ? r.arrayBuffer() : null;
    },
    url,
  );
}
