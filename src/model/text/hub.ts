/**
 * Downloads a GPT-2 checkpoint from the Hugging Face hub (or a mirror of its `resolve/main/` paths) by
 * model id: `config.json`, then `model.safetensors`, or `model.safetensors.index.json` and its shards.
 * Files are kept in a WeightCache, so a second load of the same id needs no network.
 */
import * as v from 'valibot';
import { concatBytes } from '../../lib/bytes';
import { describeIssues } from '../../lib/validate';
import { gpt2Size, isGpt2MaskBuffer } from './gpt2';
import { type Gpt2Config, Gpt2ConfigError, parseGpt2Config } from './gpt2Config';
import { type HostTensor, readSafetensors, readSafetensorsHeader, readShardedSafetensors, SafetensorsError } from './safetensors';
import { checkSize, DEFAULT_MAX_MODEL_BYTES } from './textModel';
import { GPT2_VOCAB_SIZE } from './tokenizer';
import { type WeightCache, weightCacheKey } from './weightCache';

export const DEFAULT_HUB_URL = 'https://huggingface.co';
export const CONFIG_FILE = 'config.json';
export const WEIGHTS_FILE = 'model.safetensors';
export const INDEX_FILE = 'model.safetensors.index.json';
/** Written to the cache after every file of a model, so its presence means the model is complete there. */
const MANIFEST_FILE = '.atlas-cache-manifest.json';
const MANIFEST_VERSION = 1;
const LM_HEAD = 'lm_head.weight';
/** Room in a checkpoint's files for their JSON headers (names, shapes, offsets) beside the tensors. */
const HEADER_ALLOWANCE = 1024 ** 2;

/** One downloaded file of a checkpoint, by its name in the repository. */
export interface HubFile {
  name: string;
  bytes: Uint8Array;
}

export interface HubLoad {
  /** config.json, then model.safetensors, or the index and its shards in name order. */
  files: HubFile[];
  /** True when every file came from the cache and nothing was fetched. */
  fromCache: boolean;
  /** Why the model could not be read from or kept in the cache; the load itself succeeded. */
  cacheWarning?: string;
}

/** Bytes received so far across all files of a load. */
export interface HubProgress {
  /** The file being received. */
  file: string;
  loaded: number;
  /** Bytes of all files together; null when a server did not say a file's length, so only `loaded` is known. */
  total: number | null;
}

export interface HubLoadOptions {
  /** Where `${baseUrl}/${id}/resolve/main/<file>` is served; defaults to DEFAULT_HUB_URL. */
  baseUrl?: string;
  fetch?: typeof globalThis.fetch;
  signal?: AbortSignal;
  /** Checked first and filled after a complete download; null or absent: no cache. */
  cache?: WeightCache | null;
  /** Called as bytes arrive, once the list of files and their sizes is known; `total` does not change within a load. */
  onProgress?: (progress: HubProgress) => void;
  /**
   * Most bytes the model's float32 weights may take (DEFAULT_MAX_MODEL_BYTES, as TextModel.fromFiles, unless set).
   * A larger model is refused from its config.json, the index and the files' announced sizes, before any weights arrive.
   */
  maxBytes?: number;
  /** The vocabulary the model must have, checked from config.json: the GPT-2 tokenizer's unless set; null accepts any. */
  vocabSize?: number | null;
}

/** The model could not be found or downloaded; the message says which id, URL or file and why. */
export class HubError extends Error {
  override name = 'HubError';
}

/**
 * A Hugging Face model id, trimmed: `name` or `owner/name`, each of letters, digits, `-`, `_` and `.`,
 * not starting or ending with `-` or `.`, without `--` or `..`, the name at most 96 characters.
 */
export function parseModelId(text: string): string {
  const id = text.trim();
  if (id === '') throw new HubError('Type a Hugging Face model id, e.g. "gpt2", "distilgpt2" or "owner/model-name".');
  if (/^[a-z][a-z\d+.-]*:\/\//i.test(id) || id.startsWith('huggingface.co/')) {
    throw new HubError(`"${id}" is a URL; type only the model id, e.g. "gpt2" or "owner/model-name" (the base URL is a separate setting).`);
  }
  const parts = id.split('/');
  if (parts.length > 2) throw new HubError(`"${id}" is not a model id: it has more than one "/" (expected "name" or "owner/name").`);
  const part = /^[A-Za-z\d_](?:[\w.-]*[A-Za-z\d_])?$/;
  for (const p of parts) {
    if (!part.test(p) || p.includes('--') || p.includes('..')) {
      throw new HubError(
        `"${id}" is not a model id: "${p}" may use only letters, digits, "-", "_" and ".", must not start or end with "-" or ".", nor contain "--" or "..".`,
      );
    }
  }
  if (parts[parts.length - 1].length > 96) throw new HubError(`"${id}" is not a model id: the name is longer than 96 characters.`);
  return id;
}

/** The URL of one file of a model on the hub or a mirror of it. */
export function hubFileUrl(baseUrl: string, modelId: string, file: string): string {
  const path = file.split('/').map(encodeURIComponent).join('/');
  return `${baseUrl.replace(/\/+$/, '')}/${modelId}/resolve/main/${path}`;
}

/**
 * Downloads a GPT-2 checkpoint by model id, or reads it from `options.cache` when all its files are there
 * (then without any request). Rejects with HubError, with the signal's AbortError when cancelled.
 */
export async function loadHubModel(modelId: string, options: HubLoadOptions = {}): Promise<HubLoad> {
  const id = parseModelId(modelId);
  const baseUrl = parseBaseUrl(options.baseUrl ?? DEFAULT_HUB_URL);
  // Bound: a browser refuses fetch called as another object's method ("Illegal invocation").
  const fetchFile = options.fetch ?? globalThis.fetch?.bind(globalThis);
  if (!fetchFile) throw new HubError('fetch is not available here, so models cannot be downloaded.');
  const { signal, cache, onProgress } = options;
  signal?.throwIfAborted();

  let cacheWarning: string | undefined;
  if (cache) {
    try {
      const cached = await readCachedModel(cache, baseUrl, id);
      if (cached) {
        const total = cached.reduce((n, f) => n + f.bytes.byteLength, 0);
        onProgress?.({ file: cached[cached.length - 1].name, loaded: total, total });
        return { files: cached, fromCache: true };
      }
    } catch (e) {
      cacheWarning = `The model cache could not be read (${messageOf(e)}); downloading instead.`;
    }
    signal?.throwIfAborted();
  }

  const limits = { maxBytes: options.maxBytes ?? DEFAULT_MAX_MODEL_BYTES, vocabSize: options.vocabSize === undefined ? GPT2_VOCAB_SIZE : options.vocabSize };
  const download = new Download(fetchFile, baseUrl, id, signal, onProgress, limits);
  // A model refused here has fetched no weights, and nothing of it is cached.
  const files = await download.checkpoint();
  signal?.throwIfAborted();
  if (cache) {
    const warning = await storeModel(cache, baseUrl, id, files);
    if (warning) cacheWarning = cacheWarning ? `${cacheWarning} ${warning}` : warning;
  }
  return cacheWarning ? { files, fromCache: false, cacheWarning } : { files, fromCache: false };
}

/** Removes every cached file of a model, so that the next load downloads it afresh. */
export async function forgetCachedModel(modelId: string, options: { baseUrl?: string; cache: WeightCache }): Promise<void> {
  const id = parseModelId(modelId);
  const baseUrl = parseBaseUrl(options.baseUrl ?? DEFAULT_HUB_URL);
  const manifestKey = weightCacheKey(baseUrl, id, MANIFEST_FILE);
  let manifest: ManifestEntry[] | null = null;
  try {
    manifest = parseManifest(await options.cache.get(manifestKey));
  } catch {
    // An unreadable manifest names no files to remove; dropping it is enough for the next load to download.
  }
  await options.cache.delete(manifestKey);
  for (const file of manifest ?? []) await options.cache.delete(weightCacheKey(baseUrl, id, file.name));
}

/** The config and decoded tensors of a load's files (mask buffers left out), ready for `Gpt2Model.fromTensors`. */
export function readHubCheckpoint(files: HubFile[]): { config: Gpt2Config; tensors: Map<string, HostTensor> } {
  const byName = new Map(files.map((f) => [f.name, f.bytes]));
  const configBytes = byName.get(CONFIG_FILE);
  if (!configBytes) throw new HubError(`The downloaded files have no ${CONFIG_FILE}.`);
  const config = parseGpt2Config(new TextDecoder().decode(configBytes));
  const single = byName.get(WEIGHTS_FILE);
  if (single) return { config, tensors: readSafetensors(single, { skip: isGpt2MaskBuffer, fileName: WEIGHTS_FILE }) };
  const index = byName.get(INDEX_FILE);
  if (!index) throw new HubError(`The downloaded files have neither ${WEIGHTS_FILE} nor ${INDEX_FILE}.`);
  byName.delete(CONFIG_FILE);
  byName.delete(INDEX_FILE);
  return { config, tensors: readShardedSafetensors(new TextDecoder().decode(index), byName, { skip: isGpt2MaskBuffer }) };
}

function parseBaseUrl(text: string): string {
  let url: URL;
  try {
    url = new URL(text.trim());
  } catch {
    throw new HubError(`The base URL "${text}" is not a URL; the default is ${DEFAULT_HUB_URL}.`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new HubError(`The base URL "${text}" must start with https:// or http://; the default is ${DEFAULT_HUB_URL}.`);
  }
  if (url.search || url.hash) throw new HubError(`The base URL "${text}" must not have a query or fragment.`);
  return url.href.replace(/\/+$/, '');
}

/** The files of one load, fetched one after another with a shared byte count. */
class Download {
  private loaded = 0;
  private total: number | null = null;
  private reporting = false;
  /** Weight bytes received so far, and the most the config's model can have (set once config.json is read). */
  private weightBytes = 0;
  private weightBudget = Infinity;

  constructor(
    private readonly fetchFile: typeof globalThis.fetch,
    private readonly baseUrl: string,
    private readonly id: string,
    private readonly signal: AbortSignal | undefined,
    private readonly onProgress: ((progress: HubProgress) => void) | undefined,
    private readonly limits: { maxBytes: number; vocabSize: number | null },
  ) {}

  async checkpoint(): Promise<HubFile[]> {
    const { file: config, gpt2 } = await this.configFile();
    this.admitConfig(gpt2);
    const weights = await this.get(WEIGHTS_FILE, { missingOk: true });
    if (weights) {
      // Only the headers have arrived: a refused file's body is never read.
      await this.admitOrDiscard(weights, () => this.admitFiles([contentLength(weights)], null));
      this.startReporting(WEIGHTS_FILE, [contentLength(weights)]);
      const bytes = checkSafetensors(await this.body(weights, WEIGHTS_FILE, { weights: true }), this.url(WEIGHTS_FILE));
      // Whether the lm_head is tied is only known from the file's header; a model refused now is not cached.
      const ownLmHead = readSafetensorsHeader(bytes, WEIGHTS_FILE).entries.some((e) => e.name === LM_HEAD);
      this.admitSize(gpt2, ownLmHead, 'was refused after its download (it is not kept)');
      return [config, { name: WEIGHTS_FILE, bytes }];
    }
    const indexResponse = await this.get(INDEX_FILE, { missingOk: true });
    if (!indexResponse) {
      throw new HubError(
        `"${this.id}" at ${this.baseUrl} has neither ${WEIGHTS_FILE} nor ${INDEX_FILE}: only safetensors checkpoints can be loaded (not pytorch_model.bin).`,
      );
    }
    const index: HubFile = { name: INDEX_FILE, bytes: await this.body(indexResponse, INDEX_FILE) };
    const { shardNames, ownLmHead, totalSize } = parseIndex(index.bytes, this.url(INDEX_FILE));
    this.admitSize(gpt2, ownLmHead);
    const sizes: (number | null)[] = [];
    for (const name of shardNames) sizes.push(await this.size(name));
    this.admitFiles(sizes, totalSize);
    this.startReporting(shardNames[0], sizes);
    const shards: HubFile[] = [];
    for (const name of shardNames) {
      const response = (await this.get(name))!;
      shards.push({ name, bytes: checkSafetensors(await this.body(response, name, { weights: true }), this.url(name)) });
    }
    return [config, index, ...shards];
  }

  /** The vocabulary and the smallest size the config allows (a tied lm_head), before any weight file is asked for. */
  private admitConfig(config: Gpt2Config): void {
    const { vocabSize } = this.limits;
    if (vocabSize !== null && config.vocabSize !== vocabSize) {
      throw this.refused(`${CONFIG_FILE} gives a vocabulary of ${config.vocabSize} tokens, but the GPT-2 tokenizer has ${vocabSize}.`);
    }
    this.admitSize(config, false);
    this.weightBudget = largestCheckpointBytes(config);
  }

  /** The model's float32 size against the limit, in TextModel's words. */
  private admitSize(config: Gpt2Config, ownLmHead: boolean, how?: string): void {
    try {
      checkSize(config, ownLmHead, this.limits.maxBytes);
    } catch (e) {
      throw this.refused(messageOf(e), how);
    }
  }

  /**
   * The weight files' announced sizes (and the index's total_size) against the most a checkpoint of the config's
   * model can hold: larger files are not what config.json describes. Unknown sizes are bounded while they arrive.
   */
  private admitFiles(sizes: (number | null)[], totalSize: number | null): void {
    const announced = sizes.every((size) => size !== null) ? sizes.reduce((n: number, size) => n + size!, 0) : 0;
    const largest = Math.max(announced, totalSize ?? 0);
    if (largest > this.weightBudget) throw this.refused(filesTooLarge(largest, this.weightBudget));
  }

  private async admitOrDiscard(response: Response, admit: () => void): Promise<void> {
    try {
      admit();
    } catch (e) {
      await discard(response);
      throw e;
    }
  }

  /** Counts weight bytes as they arrive: past the most the config's model can hold, the model is refused. */
  private countWeights(bytes: number, how: string): void {
    this.weightBytes += bytes;
    if (this.weightBytes > this.weightBudget) throw this.refused(filesTooLarge(this.weightBytes, this.weightBudget), how);
  }

  private refused(why: string, how = 'was refused before any of its weights were downloaded'): HubError {
    return new HubError(`"${this.id}" at ${this.baseUrl} ${how}: ${why}`);
  }

  private async configFile(): Promise<{ file: HubFile; gpt2: Gpt2Config }> {
    const url = this.url(CONFIG_FILE);
    const response = await this.fetch(url, 'GET');
    if (response.status === 404 || response.status === 401) {
      await discard(response);
      const why = response.status === 404 ? '' : ': the id is wrong, or the model is private or gated, which this app cannot load';
      throw new HubError(`Model "${this.id}" was not found at ${this.baseUrl} (${url} answered HTTP ${response.status}${why}).`);
    }
    if (!response.ok) throw await httpError(response, url);
    const bytes = await this.body(response, CONFIG_FILE);
    try {
      return { file: { name: CONFIG_FILE, bytes }, gpt2: parseGpt2Config(new TextDecoder().decode(bytes)) };
    } catch (e) {
      if (!(e instanceof Gpt2ConfigError)) throw e;
      throw new HubError(`"${this.id}" at ${this.baseUrl} is not a GPT-2 this app can run: ${e.message}`);
    }
  }

  /** The response for a file; null for a 404 when `missingOk`. */
  private async get(file: string, { missingOk = false } = {}): Promise<Response | null> {
    const url = this.url(file);
    const response = await this.fetch(url, 'GET');
    if (response.ok) return response;
    if (response.status === 404 && missingOk) {
      await discard(response);
      return null;
    }
    throw await httpError(response, url);
  }

  /** A file's length from a HEAD request; null when the server does not say (the download then counts bytes). */
  private async size(file: string): Promise<number | null> {
    try {
      const response = await this.fetch(this.url(file), 'HEAD');
      await discard(response);
      return response.ok ? contentLength(response) : null;
    } catch (e) {
      if (this.signal?.aborted) throw this.signal.reason;
      // The GET that follows reports an unreachable server with its own URL.
      if (e instanceof HubError) return null;
      throw e;
    }
  }

  private async fetch(url: string, method: 'GET' | 'HEAD'): Promise<Response> {
    try {
      return await this.fetchFile(url, { method, signal: this.signal });
    } catch (e) {
      if (this.signal?.aborted) throw this.signal.reason;
      if (isAbortError(e)) throw e;
      throw new HubError(`Could not reach ${url} (${messageOf(e)}); check the network connection and the base URL.`);
    }
  }

  /** Counts the metadata already received and fixes the total, then reports from here on. */
  private startReporting(file: string, weightSizes: (number | null)[]): void {
    const unknown = weightSizes.some((size) => size === null);
    this.total = unknown ? null : this.loaded + weightSizes.reduce((n: number, size) => n + size!, 0);
    this.reporting = true;
    this.onProgress?.({ file, loaded: this.loaded, total: this.total });
  }

  /** Streams a response body, into one preallocated array when its length is known; weights stop at the config's bound. */
  private async body(response: Response, file: string, { weights = false } = {}): Promise<Uint8Array> {
    if (this.signal?.aborted) {
      await discard(response);
      throw this.signal.reason;
    }
    const url = this.url(file);
    const expected = contentLength(response);
    const report = (n: number) => {
      this.loaded += n;
      if (this.reporting) this.onProgress?.({ file, loaded: this.loaded, total: this.total });
    };
    if (!response.body) {
      const bytes = new Uint8Array(await response.arrayBuffer());
      report(bytes.byteLength);
      if (weights) this.countWeights(bytes.byteLength, 'was refused after its download (it is not kept)');
      return bytes;
    }
    const reader = response.body.getReader();
    // A fetch that ignores the signal still stops here: cancelling ends the pending read.
    const cancel = () => void reader.cancel(this.signal?.reason).catch(() => undefined);
    this.signal?.addEventListener('abort', cancel, { once: true });
    let preallocated = expected === null ? null : new Uint8Array(expected);
    const chunks: Uint8Array[] = [];
    let received = 0;
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        if (preallocated && received + value.byteLength <= preallocated.byteLength) {
          preallocated.set(value, received);
        } else {
          if (preallocated) chunks.push(preallocated.subarray(0, received));
          preallocated = null;
          chunks.push(value);
        }
        received += value.byteLength;
        report(value.byteLength);
        // A server that did not announce a length is held to the bound as the bytes arrive.
        if (weights) this.countWeights(value.byteLength, 'was refused during its download (it is not kept)');
      }
    } catch (e) {
      if (this.signal?.aborted) throw this.signal.reason;
      if (isAbortError(e)) throw e;
      await reader.cancel().catch(() => undefined);
      if (e instanceof HubError) throw e;
      const of = expected === null ? '' : ` of ${expected}`;
      throw new HubError(`The download of ${url} broke off after ${received}${of} bytes (${messageOf(e)}); try again.`);
    } finally {
      this.signal?.removeEventListener('abort', cancel);
    }
    this.signal?.throwIfAborted();
    if (expected !== null && received !== expected) {
      throw new HubError(`The download of ${url} is incomplete: ${received} bytes arrived but the server announced ${expected}; try again.`);
    }
    return preallocated ?? concatBytes(chunks, received);
  }

  private url(file: string): string {
    return hubFileUrl(this.baseUrl, this.id, file);
  }
}

/** Content-Length as a byte count, or null where it is absent or counts encoded (e.g. gzip) bytes rather than the body's. */
function contentLength(response: Response): number | null {
  const encoding = response.headers.get('content-encoding');
  if (encoding && encoding.toLowerCase() !== 'identity') return null;
  const text = response.headers.get('content-length');
  const length = text === null || text.trim() === '' ? NaN : Number(text);
  return Number.isSafeInteger(length) && length >= 0 ? length : null;
}

/** A truncated or corrupt weight file fails here, before it is cached, rather than when the model is built. */
function checkSafetensors(bytes: Uint8Array, url: string): Uint8Array {
  try {
    readSafetensorsHeader(bytes, url);
  } catch (e) {
    if (!(e instanceof SafetensorsError)) throw e;
    throw new HubError(`The download is not a usable checkpoint: ${e.message}`);
  }
  return bytes;
}

/**
 * The most bytes the weight files of this config's model can hold: float32 weights with an lm_head of their
 * own, float32 attention masks (older checkpoints store them) and headers. Larger files are another model.
 */
function largestCheckpointBytes(config: Gpt2Config): number {
  const masks = config.nLayer * 4 * (config.nPositions ** 2 + 1);
  return gpt2Size(config, { tiedLmHead: false }).bytes + masks + HEADER_ALLOWANCE;
}

const filesTooLarge = (bytes: number, most: number) =>
  `its weight files hold ${bytes.toLocaleString('en')} bytes, more than the ${most.toLocaleString('en')} that the model its ${CONFIG_FILE} describes can take (float32, with its own lm_head and attention masks); the files are not that model.`;

/** A shard's name becomes a URL path and a cache key: a file name in the model's repository, no way out of its folder. */
const repositoryFile = v.pipe(
  v.string(),
  v.check((name) => name.split('/').every((p) => /^[\w.-]+$/.test(p) && p !== '.' && p !== '..'), (issue) => `${JSON.stringify(issue.input)} is not a file name in the model's repository`),
);

/** model.safetensors.index.json: which shard holds each tensor, and optionally the tensors' total size. */
const indexSchema = v.object({
  metadata: v.optional(v.looseObject({ total_size: v.optional(v.pipe(v.number(), v.safeInteger(), v.minValue(0))) })),
  weight_map: v.pipe(
    v.record(v.string(), repositoryFile),
    v.check((map) => Object.keys(map).length > 0, 'names no shard files'),
  ),
});

/** The shard files an index names (each once, in name order), whether it has its own lm_head, and the total size it states. */
function parseIndex(bytes: Uint8Array, url: string): { shardNames: string[]; ownLmHead: boolean; totalSize: number | null } {
  let raw: unknown;
  try {
    raw = JSON.parse(new TextDecoder().decode(bytes));
  } catch (e) {
    throw new HubError(`${url} is not JSON (${messageOf(e)}).`);
  }
  const result = v.safeParse(indexSchema, raw);
  if (!result.success) throw new HubError(`${url}: ${describeIssues(result.issues)}.`);
  const { weight_map: weightMap, metadata } = result.output;
  return {
    shardNames: [...new Set(Object.values(weightMap))].sort(),
    ownLmHead: Object.hasOwn(weightMap, LM_HEAD),
    totalSize: metadata?.total_size ?? null,
  };
}

/** What the cache holds of one model: every file by name with its size, written last so its presence means complete. */
const manifestSchema = v.object({
  version: v.literal(MANIFEST_VERSION),
  files: v.array(v.object({ name: repositoryFile, bytes: v.pipe(v.number(), v.safeInteger(), v.minValue(0)) })),
});

type ManifestEntry = v.InferOutput<typeof manifestSchema>['files'][number];

/** The cached manifest's files; null when there is none; a HubError naming the field when it is unreadable. */
function parseManifest(bytes: Uint8Array | null): ManifestEntry[] | null {
  if (!bytes) return null;
  let raw: unknown;
  try {
    raw = JSON.parse(new TextDecoder().decode(bytes));
  } catch (e) {
    throw new HubError(`its list of files is not JSON (${messageOf(e)})`);
  }
  const result = v.safeParse(manifestSchema, raw);
  if (!result.success) throw new HubError(`its list of files is unreadable: ${describeIssues(result.issues)}`);
  return result.output.files;
}

/** Every file of a model from the cache, or null unless all of them are there with their recorded sizes. */
async function readCachedModel(cache: WeightCache, baseUrl: string, id: string): Promise<HubFile[] | null> {
  const manifest = parseManifest(await cache.get(weightCacheKey(baseUrl, id, MANIFEST_FILE)));
  if (!manifest || manifest.length === 0) return null;
  const files: HubFile[] = [];
  for (const { name, bytes: size } of manifest) {
    const bytes = await cache.get(weightCacheKey(baseUrl, id, name));
    if (!bytes || bytes.byteLength !== size) return null;
    files.push({ name, bytes });
  }
  return files;
}

/** Stores every file, then the manifest; on failure removes what it stored and returns why, for the caller to show. */
async function storeModel(cache: WeightCache, baseUrl: string, id: string, files: HubFile[]): Promise<string | null> {
  const manifestKey = weightCacheKey(baseUrl, id, MANIFEST_FILE);
  const stored: string[] = [];
  try {
    // Without its manifest, an older copy of the model is never read half-overwritten.
    await cache.delete(manifestKey);
    for (const file of files) {
      const key = weightCacheKey(baseUrl, id, file.name);
      stored.push(key);
      await cache.put(key, file.bytes);
    }
    const manifest = { version: MANIFEST_VERSION, files: files.map((f) => ({ name: f.name, bytes: f.bytes.byteLength })) };
    await cache.put(manifestKey, new TextEncoder().encode(JSON.stringify(manifest)));
    return null;
  } catch (e) {
    for (const key of stored) await cache.delete(key).catch(() => undefined);
    return `"${id}" could not be kept for offline use (${messageOf(e)}); it is loaded, and will be downloaded again next time.`;
  }
}

async function httpError(response: Response, url: string): Promise<HubError> {
  await discard(response);
  const status = `HTTP ${response.status}${response.statusText ? ` ${response.statusText}` : ''}`;
  const hint =
    response.status === 401 || response.status === 403
      ? ': the model is private or gated, and this app sends no Hugging Face token'
      : response.status === 429
        ? ': too many requests; wait a minute and try again'
        : '';
  return new HubError(`${url} answered ${status}${hint}.`);
}

/** Lets the connection go without reading a body we do not need. */
async function discard(response: Response): Promise<void> {
  await response.body?.cancel().catch(() => undefined);
}

function isAbortError(error: unknown): boolean {
  return (error as { name?: string } | null)?.name === 'AbortError';
}

/** An error's message with its cause (Node's fetch says only "fetch failed" and puts the reason there). */
function messageOf(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = (error as { cause?: unknown }).cause;
  const causeText = cause instanceof Error ? cause.message : typeof cause === 'string' ? cause : '';
  return causeText && !error.message.includes(causeText) ? `${error.message}: ${causeText}` : error.message;
}
