import type * as tf from '@tensorflow/tfjs';

/** A model.json and its weight shards could not be assembled; the message names the file at fault. */
export class ModelFileError extends Error {
  override name = 'ModelFileError';
}

const DTYPE_BYTES: Record<string, number> = { float32: 4, int32: 4, bool: 1, uint8: 1, uint16: 2, float16: 2, string: 0 };

interface WeightsGroup {
  paths: string[];
  weights: tf.io.WeightsManifestEntry[];
}

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
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(modelJsonText);
  } catch (e) {
    throw new ModelFileError(`${source} is not valid JSON (${(e as Error).message}).`);
  }
  if (!json || typeof json !== 'object' || !json.modelTopology) {
    throw new ModelFileError(`${source} is not a TF.js model.json: it has no "modelTopology".`);
  }
  const manifest = (json.weightsManifest ?? []) as WeightsGroup[];
  if (!Array.isArray(manifest)) throw new ModelFileError(`${source}: "weightsManifest" must be a list.`);
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
    modelTopology: json.modelTopology as tf.io.ModelArtifacts['modelTopology'],
    format: json.format as string | undefined,
    generatedBy: json.generatedBy as string | undefined,
    convertedBy: json.convertedBy as string | null | undefined,
    weightSpecs: specs,
    weightData: weightData.buffer,
    userDefinedMetadata: json.userDefinedMetadata as tf.io.ModelArtifacts['userDefinedMetadata'],
    signature: json.signature as Record<string, unknown> | undefined,
    modelInitializer: json.modelInitializer as Record<string, unknown> | undefined,
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
