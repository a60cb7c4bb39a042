import * as tf from '@tensorflow/tfjs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chooseBackend } from '../../../src/model/backend';
import { Gpt2Model, isGpt2MaskBuffer } from '../../../src/model/text/gpt2';
import { parseGpt2Config } from '../../../src/model/text/gpt2Config';
import {
  forgetCachedModel,
  HubError,
  hubFileUrl,
  type HubFile,
  type HubLoadOptions,
  type HubProgress,
  loadHubModel,
  parseModelId,
  readHubCheckpoint,
} from '../../../src/model/text/hub';
import { readSafetensors } from '../../../src/model/text/safetensors';
import { fakeIndexedDb } from '../../fakeIndexedDb';
import { IndexedDbWeightCache, MemoryWeightCache, WeightCacheError, WeightCacheQuotaError, weightCacheKey } from '../../../src/model/text/weightCache';
import { checkpointTensors, randomCheckpoint, randomTokens, type TestCheckpoint, type TestConfigJson, writeSafetensors } from './checkpoints';

/** How the mirror sends a file: as a hub would, or broken in one of the ways a download can break. */
type Delivery =
  | 'normal'
  /** No Content-Length: chunked transfer. */
  | 'unannounced'
  /** Announces the full length, sends half, then drops the connection. */
  | 'cut'
  /** No Content-Length, half the bytes, then a clean end. */
  | 'short'
  /** Announces the full length, sends one piece, then sends nothing more. */
  | 'stall';

interface MirrorFile {
  bytes: Uint8Array;
  delivery: Delivery;
}

const PIECE = 1024;

/** A local mirror of the hub's `/<id>/resolve/main/<file>` paths (under an optional prefix), on 127.0.0.1. */
class Mirror {
  readonly requests: string[] = [];
  private readonly files = new Map<string, MirrorFile>();
  private server: Server | null = null;
  origin = '';

  /** Serves `file` of model `id` under `prefix` (e.g. '' or '/mirror-a'). */
  add(id: string, file: string, bytes: Uint8Array, { prefix = '', delivery = 'normal' as Delivery } = {}): void {
    this.files.set(`${prefix}/${id}/resolve/main/${file}`, { bytes, delivery });
  }

  async start(): Promise<void> {
    this.server = createServer((request, response) => void this.serve(request, response));
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.origin = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = null;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private async serve(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const path = decodeURIComponent(new URL(request.url!, 'http://mirror').pathname);
    this.requests.push(`${request.method} ${path}`);
    if (path.startsWith('/private/')) {
      response.writeHead(401).end('Repository not found');
      return;
    }
    const file = this.files.get(path);
    if (!file) {
      response.writeHead(404).end('Entry not found');
      return;
    }
    const { bytes, delivery } = file;
    const announced = delivery === 'normal' || delivery === 'cut' || delivery === 'stall';
    response.writeHead(200, announced ? { 'content-length': `${bytes.byteLength}` } : {});
    if (request.method === 'HEAD') {
      response.end();
      return;
    }
    const end = delivery === 'cut' || delivery === 'short' ? bytes.byteLength >> 1 : delivery === 'stall' ? PIECE : bytes.byteLength;
    // Pieces sent on separate turns of the event loop, so the client sees the body arrive in steps.
    for (let at = 0; at < end; at += PIECE) {
      response.write(bytes.subarray(at, Math.min(at + PIECE, end)));
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    if (delivery === 'cut') response.socket?.destroy();
    else if (delivery !== 'stall') response.end();
  }
}

const TINY: TestConfigJson = { model_type: 'gpt2', n_embd: 16, n_layer: 2, n_head: 4, n_positions: 12, vocab_size: 23 };
const SHARDED_CONFIG: TestConfigJson = { ...TINY, n_layer: 3, n_head: 2, n_embd: 24 };

const json = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));

interface Published {
  checkpoint: TestCheckpoint;
  /** The checkpoint as one safetensors file, whichever way it is published. */
  single: Uint8Array;
  files: HubFile[];
}

/** A seeded checkpoint as Hugging Face publishes it: one model.safetensors with mask buffers, or an index and two shards. */
function publish(config: TestConfigJson, seed: number, layout: 'single' | 'sharded'): Published {
  const checkpoint = randomCheckpoint(config, { seed, dtype: 'F32', untiedHead: false });
  const tensors = checkpointTensors(checkpoint, { prefix: true, maskBuffers: 'F32' });
  const single = writeSafetensors(tensors, { format: 'pt' });
  const configFile = { name: 'config.json', bytes: json(config) };
  if (layout === 'single') return { checkpoint, single, files: [configFile, { name: 'model.safetensors', bytes: single }] };
  const half = Math.ceil(tensors.length / 2);
  const parts = [tensors.slice(0, half), tensors.slice(half)];
  const names = ['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors'];
  const weightMap: Record<string, string> = {};
  parts.forEach((part, i) => part.forEach((t) => (weightMap[t.name] = names[i])));
  const shards = parts.map((part, i) => ({ name: names[i], bytes: writeSafetensors(part, { format: 'pt' }) }));
  const index = { name: 'model.safetensors.index.json', bytes: json({ metadata: { total_size: single.byteLength }, weight_map: weightMap }) };
  return { checkpoint, single, files: [configFile, index, ...shards] };
}

function serve(mirror: Mirror, id: string, files: HubFile[], options: { prefix?: string; delivery?: Partial<Record<string, Delivery>> } = {}): void {
  for (const f of files) mirror.add(id, f.name, f.bytes, { prefix: options.prefix, delivery: options.delivery?.[f.name] ?? 'normal' });
}

const TOKENS = randomTokens(3, 7, TINY.vocab_size, 5);

function logitsOf(config: TestConfigJson, tensors: ReturnType<typeof readSafetensors>): Float32Array {
  const model = Gpt2Model.fromTensors(parseGpt2Config(config), tensors);
  try {
    return tf.tidy(() => model.logits(TOKENS).dataSync() as Float32Array);
  } finally {
    model.dispose();
  }
}

/** A fetch that counts its calls, optionally without passing the signal on (as some fetch wrappers do). */
function countingFetch(options: { dropSignal?: boolean } = {}): { fetch: typeof globalThis.fetch; calls: string[] } {
  const calls: string[] = [];
  const fetch: typeof globalThis.fetch = (input, init) => {
    calls.push(`${init?.method ?? 'GET'} ${String(input)}`);
    return globalThis.fetch(input, options.dropSignal ? { ...init, signal: undefined } : init);
  };
  return { fetch, calls };
}

const mirror = new Mirror();
const tiny = publish(TINY, 11, 'single');
const sharded = publish(SHARDED_CONFIG, 12, 'sharded');
const onMirrorA = publish(TINY, 13, 'single');
const totalBytes = (files: HubFile[]) => files.reduce((n, f) => n + f.bytes.byteLength, 0);

beforeAll(async () => {
  await chooseBackend({ node: true });
  serve(mirror, 'tiny', tiny.files);
  serve(mirror, 'owner/sharded', sharded.files);
  serve(mirror, 'tiny', onMirrorA.files, { prefix: '/mirror-a' });
  serve(mirror, 'owner/unannounced', tiny.files, { delivery: { 'model.safetensors': 'unannounced' } });
  serve(mirror, 'owner/cut', tiny.files, { delivery: { 'model.safetensors': 'cut' } });
  serve(mirror, 'owner/short', tiny.files, { delivery: { 'model.safetensors': 'short' } });
  serve(mirror, 'owner/stall', tiny.files, { delivery: { 'model.safetensors': 'stall' } });
  serve(mirror, 'owner/pytorch-only', [tiny.files[0]]);
  serve(mirror, 'google-bert/bert-base-uncased', [{ name: 'config.json', bytes: json({ model_type: 'bert', hidden_size: 768 }) }]);
  await mirror.start();
});

afterAll(async () => {
  await mirror.stop();
});

describe('parseModelId', () => {
  it('accepts hub ids, trimmed', () => {
    for (const id of ['gpt2', 'gpt2-medium', 'distilgpt2', 'user/fine-tune', 'openai-community/gpt2', 'a_b/c.d-2']) expect(parseModelId(id)).toBe(id);
    expect(parseModelId('  gpt2\n')).toBe('gpt2');
  });

  it('rejects empty and malformed ids with a message saying what an id looks like', () => {
    expect(() => parseModelId('')).toThrow(/Type a Hugging Face model id, e\.g\. "gpt2"/);
    expect(() => parseModelId('   ')).toThrow(/Type a Hugging Face model id/);
    expect(() => parseModelId('https://huggingface.co/gpt2')).toThrow(/is a URL; type only the model id/);
    expect(() => parseModelId('a/b/c')).toThrow(/more than one "\/"/);
    for (const bad of ['has space', '-gpt2', 'gpt2.', 'a--b', 'x..y', 'owner/', '/gpt2', 'gpt2?x=1']) {
      expect(() => parseModelId(bad), bad).toThrow(HubError);
    }
    expect(() => parseModelId('owner/bad name')).toThrow(/"bad name" may use only letters, digits/);
  });

  it('builds resolve/main URLs under the base URL', () => {
    expect(hubFileUrl('https://huggingface.co', 'gpt2', 'config.json')).toBe('https://huggingface.co/gpt2/resolve/main/config.json');
    expect(hubFileUrl('http://mirror.local/hf/', 'user/x', 'model.safetensors')).toBe('http://mirror.local/hf/user/x/resolve/main/model.safetensors');
  });
});

describe('loadHubModel from a local mirror', () => {
  it('downloads a single-file checkpoint whose model gives the logits of a direct load', async () => {
    const tensorsBefore = tf.memory().numTensors;
    const { fetch, calls } = countingFetch();
    const load = await loadHubModel('tiny', { baseUrl: mirror.origin, fetch });
    expect(load.fromCache).toBe(false);
    expect(load.files.map((f) => f.name)).toEqual(['config.json', 'model.safetensors']);
    expect(load.files.map((f) => [...f.bytes])).toEqual(tiny.files.map((f) => [...f.bytes]));
    expect(calls).toEqual([`GET ${mirror.origin}/tiny/resolve/main/config.json`, `GET ${mirror.origin}/tiny/resolve/main/model.safetensors`]);

    const { config, tensors } = readHubCheckpoint(load.files);
    expect(config).toEqual(parseGpt2Config(TINY));
    const direct = logitsOf(TINY, readSafetensors(tiny.single, { skip: isGpt2MaskBuffer }));
    expect(logitsOf(TINY, tensors)).toEqual(direct);
    expect(tf.memory().numTensors).toBe(tensorsBefore);
  });

  it('falls back to the index and its shards when model.safetensors is missing', async () => {
    const { fetch, calls } = countingFetch();
    const load = await loadHubModel('owner/sharded', { baseUrl: mirror.origin, fetch });
    expect(load.files.map((f) => f.name)).toEqual(sharded.files.map((f) => f.name));
    expect(load.files.map((f) => [...f.bytes])).toEqual(sharded.files.map((f) => [...f.bytes]));
    const url = (file: string) => `${mirror.origin}/owner/sharded/resolve/main/${file}`;
    expect(calls.filter((c) => c.startsWith('GET'))).toEqual(
      ['config.json', 'model.safetensors', 'model.safetensors.index.json', 'model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors'].map(
        (f) => `GET ${url(f)}`,
      ),
    );

    const { tensors } = readHubCheckpoint(load.files);
    const direct = logitsOf(SHARDED_CONFIG, readSafetensors(sharded.single, { skip: isGpt2MaskBuffer }));
    expect(logitsOf(SHARDED_CONFIG, tensors)).toEqual(direct);
  });

  for (const [label, id, published] of [
    ['single file', 'tiny', tiny],
    ['sharded', 'owner/sharded', sharded],
  ] as const) {
    it(`reports progress that only grows and ends at the total of all files (${label})`, async () => {
      const events: HubProgress[] = [];
      await loadHubModel(id, { baseUrl: mirror.origin, onProgress: (p) => events.push({ ...p }) });
      const total = totalBytes(published.files);
      expect(events.length).toBeGreaterThan(5);
      expect(new Set(events.map((e) => e.total))).toEqual(new Set([total]));
      for (let i = 1; i < events.length; i++) expect(events[i].loaded).toBeGreaterThanOrEqual(events[i - 1].loaded);
      expect(events[events.length - 1].loaded).toBe(total);
      // Progress moves while the weights stream, not only when a file is complete.
      const weightFile = published.files[published.files.length - 1];
      expect(events.filter((e) => e.file === weightFile.name && e.loaded < total).length).toBeGreaterThan(1);
    });
  }

  it('says when the length is unknown (total null) and still counts the bytes', async () => {
    const events: HubProgress[] = [];
    const load = await loadHubModel('owner/unannounced', { baseUrl: mirror.origin, onProgress: (p) => events.push({ ...p }) });
    expect(load.files.map((f) => [...f.bytes])).toEqual(tiny.files.map((f) => [...f.bytes]));
    expect(events.every((e) => e.total === null)).toBe(true);
    expect(events.length).toBeGreaterThan(5);
    expect(events[events.length - 1].loaded).toBe(totalBytes(tiny.files));
  });

  it('says the model id was not found at that base URL', async () => {
    await expect(loadHubModel('nobody/missing', { baseUrl: mirror.origin })).rejects.toThrow(
      `Model "nobody/missing" was not found at ${mirror.origin} (${mirror.origin}/nobody/missing/resolve/main/config.json answered HTTP 404)`,
    );
    await expect(loadHubModel('private/model', { baseUrl: mirror.origin })).rejects.toThrow(/was not found at .* HTTP 401: the id is wrong, or the model is private or gated/);
  });

  it('rejects a malformed id before any request', async () => {
    const { fetch, calls } = countingFetch();
    await expect(loadHubModel('not an id', { baseUrl: mirror.origin, fetch })).rejects.toThrow(/is not a model id/);
    await expect(loadHubModel('tiny', { baseUrl: 'ftp://example.org', fetch })).rejects.toThrow(/must start with https:\/\/ or http:\/\//);
    expect(calls).toEqual([]);
  });

  it('stops at a config that is not a GPT-2, before downloading weights', async () => {
    const { fetch, calls } = countingFetch();
    await expect(loadHubModel('google-bert/bert-base-uncased', { baseUrl: mirror.origin, fetch })).rejects.toThrow(
      /"google-bert\/bert-base-uncased" at .* is not a GPT-2 this app can run: This is a "bert" model/,
    );
    expect(calls).toHaveLength(1);
  });

  it('says when a model has no safetensors checkpoint', async () => {
    await expect(loadHubModel('owner/pytorch-only', { baseUrl: mirror.origin })).rejects.toThrow(
      /has neither model\.safetensors nor model\.safetensors\.index\.json: only safetensors checkpoints/,
    );
  });

  it('says which URL failed when the server cannot be reached', async () => {
    const gone = new Mirror();
    await gone.start();
    const origin = gone.origin;
    await gone.stop();
    await expect(loadHubModel('tiny', { baseUrl: origin })).rejects.toThrow(
      new RegExp(`Could not reach ${origin}/tiny/resolve/main/config\\.json \\(fetch failed: .*ECONNREFUSED`),
    );
  });

  it('says the download broke off when the server closes before Content-Length bytes', async () => {
    const cache = new MemoryWeightCache();
    const url = `${mirror.origin}/owner/cut/resolve/main/model.safetensors`;
    const size = tiny.single.byteLength;
    await expect(loadHubModel('owner/cut', { baseUrl: mirror.origin, cache })).rejects.toThrow(
      new RegExp(`(The download of ${url} broke off after \\d+ of ${size} bytes)|(The download of ${url} is incomplete: \\d+ bytes arrived but the server announced ${size})`),
    );
    expect(cache.keys()).toEqual([]);
  });

  it('says the checkpoint is truncated when a body without Content-Length ends early', async () => {
    await expect(loadHubModel('owner/short', { baseUrl: mirror.origin })).rejects.toThrow(
      /The download is not a usable checkpoint: http:\/\/.*\/owner\/short\/resolve\/main\/model\.safetensors is truncated/,
    );
  });

  it('rejects with AbortError when cancelled before it starts', async () => {
    const { fetch, calls } = countingFetch();
    const controller = new AbortController();
    controller.abort();
    await expect(loadHubModel('tiny', { baseUrl: mirror.origin, fetch, signal: controller.signal })).rejects.toMatchObject({ name: 'AbortError' });
    expect(calls).toEqual([]);
  });

  for (const dropSignal of [false, true]) {
    it(`rejects with AbortError when cancelled mid-download${dropSignal ? ', even by a fetch that ignores the signal' : ''}`, async () => {
      const { fetch } = countingFetch({ dropSignal });
      const controller = new AbortController();
      const cache = new MemoryWeightCache();
      const onProgress = (p: HubProgress) => {
        // Past config.json: the weights have started to arrive.
        if (p.loaded > tiny.files[0].bytes.byteLength) controller.abort();
      };
      await expect(loadHubModel('owner/stall', { baseUrl: mirror.origin, fetch, cache, signal: controller.signal, onProgress })).rejects.toMatchObject({
        name: 'AbortError',
      });
      expect(cache.keys()).toEqual([]);
    });
  }

  it('rejects with AbortError when cancelled as the weights are about to stream', async () => {
    const controller = new AbortController();
    const onProgress = () => controller.abort();
    await expect(loadHubModel('owner/stall', { baseUrl: mirror.origin, signal: controller.signal, onProgress })).rejects.toMatchObject({ name: 'AbortError' });
  });

  it('respects the base URL setting, with or without a trailing slash', async () => {
    for (const baseUrl of [`${mirror.origin}/mirror-a`, `${mirror.origin}/mirror-a/`]) {
      const load = await loadHubModel('tiny', { baseUrl });
      expect(load.files.map((f) => [...f.bytes])).toEqual(onMirrorA.files.map((f) => [...f.bytes]));
    }
    expect(mirror.requests).toContain('GET /mirror-a/tiny/resolve/main/model.safetensors');
  });
});

describe('loadHubModel with a weight cache', () => {
  it('serves the second load from the cache without any request, with the server stopped', async () => {
    const offline = new Mirror();
    serve(offline, 'owner/sharded', sharded.files);
    await offline.start();
    const cache = new MemoryWeightCache();
    const first = await loadHubModel('owner/sharded', { baseUrl: offline.origin, cache });
    expect(first.fromCache).toBe(false);
    expect(first.cacheWarning).toBeUndefined();
    await offline.stop();

    const { fetch, calls } = countingFetch();
    const events: HubProgress[] = [];
    const second = await loadHubModel('owner/sharded', { baseUrl: offline.origin, cache, fetch, onProgress: (p) => events.push(p) });
    expect(calls).toEqual([]);
    expect(second.fromCache).toBe(true);
    expect(second.files.map((f) => f.name)).toEqual(first.files.map((f) => f.name));
    expect(second.files.map((f) => [...f.bytes])).toEqual(sharded.files.map((f) => [...f.bytes]));
    expect(events.at(-1)).toMatchObject({ loaded: totalBytes(sharded.files), total: totalBytes(sharded.files) });
    const direct = logitsOf(SHARDED_CONFIG, readSafetensors(sharded.single, { skip: isGpt2MaskBuffer }));
    expect(logitsOf(SHARDED_CONFIG, readHubCheckpoint(second.files).tensors)).toEqual(direct);

    // Without the cache, the stopped server is a network error.
    await expect(loadHubModel('owner/sharded', { baseUrl: offline.origin })).rejects.toThrow(/Could not reach/);
  });

  it('keys entries by base URL, so a mirror and another host never mix', async () => {
    const cache = new MemoryWeightCache();
    const fromMirror = await loadHubModel('tiny', { baseUrl: `${mirror.origin}/mirror-a/`, cache });
    expect(cache.keys()).toContain(weightCacheKey(`${mirror.origin}/mirror-a`, 'tiny', 'model.safetensors'));
    expect(cache.keys().every((k) => k.startsWith(`${mirror.origin}/mirror-a/tiny/`))).toBe(true);

    const fromRoot = await loadHubModel('tiny', { baseUrl: mirror.origin, cache });
    expect(fromRoot.fromCache).toBe(false);
    expect([...fromRoot.files[1].bytes]).toEqual([...tiny.single]);
    const again = await loadHubModel('tiny', { baseUrl: `${mirror.origin}/mirror-a`, cache });
    expect(again.fromCache).toBe(true);
    expect([...again.files[1].bytes]).toEqual([...fromMirror.files[1].bytes]);
  });

  it('downloads again when a cached file is missing, and after forgetCachedModel', async () => {
    const cache = new MemoryWeightCache();
    await loadHubModel('tiny', { baseUrl: mirror.origin, cache });
    await cache.delete(weightCacheKey(mirror.origin, 'tiny', 'model.safetensors'));
    expect((await loadHubModel('tiny', { baseUrl: mirror.origin, cache })).fromCache).toBe(false);
    expect((await loadHubModel('tiny', { baseUrl: mirror.origin, cache })).fromCache).toBe(true);
    await forgetCachedModel('tiny', { baseUrl: mirror.origin, cache });
    expect(cache.keys()).toEqual([]);
  });

  it('says so when the storage is full, loads anyway and leaves nothing half-stored', async () => {
    const cache = new MemoryWeightCache({ maxBytes: 2048 });
    const load = await loadHubModel('tiny', { baseUrl: mirror.origin, cache });
    expect(load.fromCache).toBe(false);
    expect(load.files.map((f) => [...f.bytes])).toEqual(tiny.files.map((f) => [...f.bytes]));
    expect(load.cacheWarning).toMatch(/"tiny" could not be kept for offline use \(Storage is full: .*\); it is loaded, and will be downloaded again next time/);
    expect(cache.storedBytes()).toBe(0);
  });

  it('loads without caching when the cache cannot be read', async () => {
    const load = await loadHubModel('tiny', { baseUrl: mirror.origin, cache: new IndexedDbWeightCache({ factory: undefined }) });
    expect(load.fromCache).toBe(false);
    expect(load.cacheWarning).toMatch(/The model cache could not be read \(IndexedDB is not available here/);
  });
});

describe('IndexedDbWeightCache', () => {
  it('stores, reads back and deletes bytes, and copies a view rather than storing its whole buffer', async () => {
    const cache = new IndexedDbWeightCache({ factory: fakeIndexedDb() });
    expect(await cache.get('k')).toBeNull();
    const buffer = Uint8Array.from({ length: 100 }, (_, i) => i);
    await cache.put('k', buffer.subarray(10, 20));
    const stored = await cache.get('k');
    expect([...stored!]).toEqual([...buffer.subarray(10, 20)]);
    expect(stored!.buffer.byteLength).toBe(10);
    await cache.delete('k');
    expect(await cache.get('k')).toBeNull();
    await cache.close();
  });

  it('turns a quota failure into WeightCacheQuotaError with the key and size', async () => {
    const cache = new IndexedDbWeightCache({ factory: fakeIndexedDb(1000) });
    const error = await cache.put('https://huggingface.co/gpt2/model.safetensors', new Uint8Array(4 * 2 ** 20)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WeightCacheQuotaError);
    expect((error as Error).message).toBe('Browser storage is full: could not keep https://huggingface.co/gpt2/model.safetensors (4.0 MB) for offline use.');
  });

  it('says IndexedDB is unavailable instead of failing obscurely', async () => {
    const error = await new IndexedDbWeightCache({ factory: undefined }).get('k').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WeightCacheError);
    expect((error as Error).message).toMatch(/IndexedDB is not available here/);
  });

  it('serves a hub model offline on the second load', async () => {
    const cache = new IndexedDbWeightCache({ factory: fakeIndexedDb() });
    const options: HubLoadOptions = { baseUrl: mirror.origin, cache };
    expect((await loadHubModel('owner/sharded', options)).fromCache).toBe(false);
    const { fetch, calls } = countingFetch();
    const second = await loadHubModel('owner/sharded', { ...options, fetch });
    expect(second.fromCache).toBe(true);
    expect(calls).toEqual([]);
    expect(second.files.map((f) => [...f.bytes])).toEqual(sharded.files.map((f) => [...f.bytes]));
  });

  it('falls back to downloading, with a warning, when the quota is too small for the model', async () => {
    const cache = new IndexedDbWeightCache({ factory: fakeIndexedDb(4096) });
    const load = await loadHubModel('tiny', { baseUrl: mirror.origin, cache });
    expect(load.cacheWarning).toMatch(/could not be kept for offline use \(Browser storage is full: could not keep .*model\.safetensors/);
    expect((await loadHubModel('tiny', { baseUrl: mirror.origin, cache })).fromCache).toBe(false);
  });
});
