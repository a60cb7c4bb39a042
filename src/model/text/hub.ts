/**
 * Downloads a GPT-2 checkpoint from the Hugging Face hub (or a mirror of its `resolve/main/` paths) by
 * model id: `config.json`, then `model.safetensors`, or `model.safetensors.index.json` and its shards.
 * Files are kept in a WeightCache, so a second load of the same id needs no network.
 */
import { isGpt2MaskBuffer } from './gpt2';
import { type Gpt2Config, Gpt2ConfigError, parseGpt2Config } from './gpt2Config';
import { type HostTensor, readSafetensors, readSafetensorsHeader, readShardedSafetensors, SafetensorsError } from './safetensors';
import { type WeightCache, weightCacheKey } from './weightCache';

export const DEFAULT_HUB_URL = 'https://huggingface.co';
export const CONFIG_FILE = 'config.json';
export const WEIGHTS_FILE = 'model.safetensors';
export const INDEX_FILE = 'model.safetensors.index.json';
/** Written to the cache after every file of a model, so its presence means the model is complete there. */
const MANIFEST_FILE = '.atlas-cache-manifest.json';
const MANIFEST_VERSION = 1;

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

  const download = new Download(fetchFile, baseUrl, id, signal, onProgress);
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
  const manifest = parseManifest(await options.cache.get(manifestKey));
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

  constructor(
    private readonly fetchFile: typeof globalThis.fetch,
    private readonly baseUrl: string,
    private readonly id: string,
    private readonly signal: AbortSignal | undefined,
    private readonly onProgress: ((progress: HubProgress) => void) | undefined,
  ) {}

  async checkpoint(): Promise<HubFile[]> {
    const config = await this.configFile();
    const weights = await this.get(WEIGHTS_FILE, { missingOk: true });
    if (weights) {
      this.startReporting(WEIGHTS_FILE, [contentLength(weights)]);
      const bytes = checkSafetensors(await this.body(weights, WEIGHTS_FILE), this.url(WEIGHTS_FILE));
      return [config, { name: WEIGHTS_FILE, bytes }];
    }
    const indexResponse = await this.get(INDEX_FILE, { missingOk: true });
    if (!indexResponse) {
      throw new HubError(
        `"${this.id}" at ${this.baseUrl} has neither ${WEIGHTS_FILE} nor ${INDEX_FILE}: only safetensors checkpoints can be loaded (not pytorch_model.bin).`,
      );
    }
    const index: HubFile = { name: INDEX_FILE, bytes: await this.body(indexResponse, INDEX_FILE) };
    const shardNames = parseShardNames(index.bytes, this.url(INDEX_FILE));
    const sizes: (number | null)[] = [];
    for (const name of shardNames) sizes.push(await this.size(name));
    this.startReporting(shardNames[0], sizes);
    const shards: HubFile[] = [];
    for (const name of shardNames) {
      const response = (await this.get(name))!;
      shards.push({ name, bytes: checkSafetensors(await this.body(response, name), this.url(name)) });
    }
    return [config, index, ...shards];
  }

  private async configFile(): Promise<HubFile> {
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
      parseGpt2Config(new TextDecoder().decode(bytes));
    } catch (e) {
      if (!(e instanceof Gpt2ConfigError)) throw e;
      throw new HubError(`"${this.id}" at ${this.baseUrl} is not a GPT-2 this app can run: ${e.message}`);
    }
    return { name: CONFIG_FILE, bytes };
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

  /** Streams a response body, into one preallocated array when its length is known. */
  private async body(response: Response, file: string): Promise<Uint8Array> {
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
      }
    } catch (e) {
      if (this.signal?.aborted) throw this.signal.reason;
      if (isAbortError(e)) throw e;
      await reader.cancel().catch(() => undefined);
      const of = expected === null ? '' : ` of ${expected}`;
      throw new HubError(`The download of ${url} broke off after ${received}${of} bytes (${messageOf(e)}); try again.`);
    } finally {
      this.signal?.removeEventListener('abort', cancel);
    }
    this.signal?.throwIfAborted();
    if (expected !== null && received !== expected) {
      throw new HubError(`The download of ${url} is incomplete: ${received} bytes arrived but the server announced ${expected}; try again.`);
    }
    return preallocated ?? concat(chunks, received);
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

/** The shard files an index names, each once, in name order. */
function parseShardNames(bytes: Uint8Array, url: string): string[] {
  let weightMap: unknown;
  try {
    weightMap = (JSON.parse(new TextDecoder().decode(bytes)) as { weight_map?: unknown } | null)?.weight_map;
  } catch (e) {
    throw new HubError(`${url} is not JSON (${messageOf(e)}).`);
  }
  if (typeof weightMap !== 'object' || weightMap === null || Array.isArray(weightMap)) {
    throw new HubError(`${url} has no "weight_map" object (tensor name -> shard file).`);
  }
  const names = [...new Set(Object.values(weightMap))].sort();
  if (names.length === 0) throw new HubError(`${url} names no shard files.`);
  for (const name of names) {
    // Shard names become URL paths and cache keys: no way out of the model's folder.
    const safe = typeof name === 'string' && name.split('/').every((p) => /^[\w.-]+$/.test(p) && p !== '.' && p !== '..');
    if (!safe) throw new HubError(`${url} names a shard ${JSON.stringify(name)} that is not a file name in the model's repository.`);
  }
  return names as string[];
}

interface ManifestEntry {
  name: string;
  bytes: number;
}

function parseManifest(bytes: Uint8Array | null): ManifestEntry[] | null {
  if (!bytes) return null;
  try {
    const manifest = JSON.parse(new TextDecoder().decode(bytes)) as { version?: unknown; files?: unknown };
    if (manifest.version !== MANIFEST_VERSION || !Array.isArray(manifest.files)) return null;
    const files = manifest.files as ManifestEntry[];
    return files.every((f) => typeof f?.name === 'string' && Number.isSafeInteger(f?.bytes)) ? files : null;
  } catch {
    return null;
  }
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

function concat(chunks: Uint8Array[], length: number): Uint8Array {
  const out = new Uint8Array(length);
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.byteLength;
  }
  return out;
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
