import * as tf from '@tensorflow/tfjs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chooseBackend } from '../../../src/model/backend';
import { Gpt2Model, gpt2Size, isGpt2MaskBuffer } from '../../../src/model/text/gpt2';
import { parseGpt2Config } from '../../../src/model/text/gpt2Config';
import {
  forgetCachedModel,
  HubError,
  hubFileUrl,
  type HubFile,
  type HubLoadOptions,
  type HubProgress,
  loadHubModel as loadHub,
  parseModelId,
  readHubCheckpoint,
} from '../../../src/model/text/hub';
import { readSafetensors } from '../../../src/model/text/safetensors';
import { fakeIndexedDb } from '../../fakeIndexedDb';
import { IndexedDbWeightCache, MemoryWeightCache, WeightCacheError, WeightCacheQuotaError, weightCacheKey } from '../../../src/model/text/weightCache';
import { checkpointTensors, randomCheckpoint, randomTokens, type TestCheckpoint, type TestConfigJson, writeSafetensors } from './checkpoints';
import { readTidy } from '../../../src/model/readTensors';

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

/** The mirror's checkpoints have tiny vocabularies: any vocabulary is accepted unless a test says otherwise. */
const loadHubModel = (id: string, options: HubLoadOptions = {}) => loadHub(id, { vocabSize: null, ...options });

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
    return readTidy(() => model.logits(TOKENS));
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

/** A fetch that answers each file of any model id as `routes` says (404 otherwise), and lists what was asked. */
function scriptedFetch(routes: Record<string, (method: string) => Response>): { fetch: typeof globalThis.fetch; requests: string[] } {
  const requests: string[] = [];
  const fetch: typeof globalThis.fetch = async (input, init) => {
    const method = init?.method ?? 'GET';
    const file = String(input).split('/resolve/main/')[1];
    requests.push(`${method} ${file}`);
    return routes[file]?.(method) ?? new Response('Entry not found', { status: 404 });
  };
  return { fetch, requests };
}

/** A body of zero bytes in pieces, read only on demand, that counts the pieces read. */
function countedBody(pieces: number, size: number): { body: ReadableStream<Uint8Array>; read: { pieces: number } } {
  const read = { pieces: 0 };
  const body = new ReadableStream<Uint8Array>(
    {
      pull(controller) {
        if (read.pieces === pieces) return controller.close();
        read.pieces++;
        controller.enqueue(new Uint8Array(size));
      },
    },
    { highWaterMark: 0 },
  );
  return { body, read };
}

describe('loadHubModel refuses a model it cannot run before downloading its weights', () => {
  const tiedBytes = (config: TestConfigJson) => gpt2Size(parseGpt2Config(config)).bytes;
  const asked = (id: string) => mirror.requests.filter((r) => r.includes(`/${id}/`)).map((r) => r.slice(r.lastIndexOf('/') + 1));
  const GPT2_LARGE = { model_type: 'gpt2', n_embd: 1280, n_layer: 36, n_head: 20, n_positions: 1024, vocab_size: 50257 };
  const withIndex = (files: HubFile[], index: unknown) => files.map((f) => (f.name === 'model.safetensors.index.json' ? { ...f, bytes: json(index) } : f));
  const shardedIndex = JSON.parse(new TextDecoder().decode(sharded.files[1].bytes)) as { metadata: object; weight_map: Record<string, string> };
  const ownHead = randomCheckpoint(TINY, { seed: 14, dtype: 'F32', untiedHead: true });
  const ownHeadSingle = writeSafetensors(checkpointTensors(ownHead, { prefix: true, maskBuffers: 'F32' }), { format: 'pt' });

  beforeAll(() => {
    serve(mirror, 'owner/other-vocab', tiny.files);
    serve(mirror, 'owner/too-large', tiny.files);
    serve(mirror, 'openai-community/gpt2-large', [{ name: 'config.json', bytes: json(GPT2_LARGE) }]);
    serve(mirror, 'owner/sharded-own-head', withIndex(sharded.files, { ...shardedIndex, weight_map: { ...shardedIndex.weight_map, 'lm_head.weight': 'model-00002-of-00002.safetensors' } }));
    serve(mirror, 'owner/sharded-huge', withIndex(sharded.files, { ...shardedIndex, metadata: { total_size: 10 ** 12 } }));
    serve(mirror, 'owner/bad-index', withIndex(sharded.files, { weight_map: { 'wte.weight': 5 } }));
    serve(mirror, 'owner/own-head', [tiny.files[0], { name: 'model.safetensors', bytes: ownHeadSingle }]);
  });

  it('a vocabulary the GPT-2 tokenizer cannot read, from config.json alone, and caches nothing', async () => {
    const cache = new MemoryWeightCache();
    await expect(loadHub('owner/other-vocab', { baseUrl: mirror.origin, cache })).rejects.toThrow(
      `"owner/other-vocab" at ${mirror.origin} was refused before any of its weights were downloaded: config.json gives a vocabulary of 23 tokens, but the GPT-2 tokenizer has 50257.`,
    );
    expect(asked('owner/other-vocab')).toEqual(['config.json']);
    expect(cache.keys()).toEqual([]);
  });

  it('GPT-2 large under the default limit, from config.json alone, in the words TextModel uses', async () => {
    const cache = new MemoryWeightCache();
    const error = await loadHub('openai-community/gpt2-large', { baseUrl: mirror.origin, cache }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HubError);
    expect((error as Error).message).toMatch(/was refused before any of its weights were downloaded: This GPT-2 is too large: 774 M parameters take 2\.88 GiB as float32, more than the 2\.00 GiB/);
    expect(asked('openai-community/gpt2-large')).toEqual(['config.json']);
    expect(cache.keys()).toEqual([]);
  });

  it('a model over a lower limit, and the same model when it fits', async () => {
    const cache = new MemoryWeightCache();
    const maxBytes = tiedBytes(TINY) - 1;
    await expect(loadHubModel('owner/too-large', { baseUrl: mirror.origin, cache, maxBytes })).rejects.toThrow(/was refused before any of its weights were downloaded: This GPT-2 is too large/);
    expect(asked('owner/too-large')).toEqual(['config.json']);
    expect(cache.keys()).toEqual([]);
    expect((await loadHubModel('owner/too-large', { baseUrl: mirror.origin, cache, maxBytes: maxBytes + 1 })).files.map((f) => f.name)).toEqual(['config.json', 'model.safetensors']);
  });

  it('a sharded model whose index shows its own lm_head takes it over the limit, before any shard is asked for', async () => {
    const cache = new MemoryWeightCache();
    const load = loadHubModel('owner/sharded-own-head', { baseUrl: mirror.origin, cache, maxBytes: tiedBytes(SHARDED_CONFIG) });
    await expect(load).rejects.toThrow(/was refused before any of its weights were downloaded: This GPT-2 is too large/);
    expect(asked('owner/sharded-own-head')).toEqual(['config.json', 'model.safetensors', 'model.safetensors.index.json']);
    expect(cache.keys()).toEqual([]);
  });

  it('shards larger than the config can describe (the index total_size), before any shard is downloaded', async () => {
    const cache = new MemoryWeightCache();
    await expect(loadHubModel('owner/sharded-huge', { baseUrl: mirror.origin, cache })).rejects.toThrow(
      /was refused before any of its weights were downloaded: its weight files hold 1,000,000,000,000 bytes, more than the [\d,]+ that the model its config\.json describes can take/,
    );
    expect(mirror.requests.filter((r) => r.startsWith('GET') && r.includes('/owner/sharded-huge/model-'))).toEqual([]);
    expect(cache.keys()).toEqual([]);
  });

  it('a weight file announced larger than the config can describe: its body is never read', async () => {
    const { body, read } = countedBody(1000, 50_000);
    const { fetch, requests } = scriptedFetch({
      'config.json': () => new Response(json(TINY)),
      'model.safetensors': () => new Response(body, { headers: { 'content-length': '50000000' } }),
    });
    const cache = new MemoryWeightCache();
    await expect(loadHubModel('owner/liar', { baseUrl: mirror.origin, fetch, cache })).rejects.toThrow(
      /"owner\/liar" at .* was refused before any of its weights were downloaded: its weight files hold 50,000,000 bytes, more than the [\d,]+ that the model its config\.json describes can take/,
    );
    expect(requests).toEqual(['GET config.json', 'GET model.safetensors']);
    expect(read.pieces).toBe(0);
    expect(cache.keys()).toEqual([]);
  });

  it('a weight file of unannounced length is stopped once it passes what the config can describe', async () => {
    const { body, read } = countedBody(1000, 64 * 1024);
    const { fetch } = scriptedFetch({ 'config.json': () => new Response(json(TINY)), 'model.safetensors': () => new Response(body) });
    const cache = new MemoryWeightCache();
    await expect(loadHubModel('owner/endless', { baseUrl: mirror.origin, fetch, cache })).rejects.toThrow(/was refused during its download \(it is not kept\): its weight files hold/);
    const bound = gpt2Size(parseGpt2Config(TINY), { tiedLmHead: false }).bytes + 2 * 4 * (12 * 12 + 1) + 1024 ** 2;
    expect(read.pieces).toBe(Math.floor(bound / (64 * 1024)) + 1);
    expect(cache.keys()).toEqual([]);
  });

  it('a single file whose header shows its own lm_head over the limit is refused after its download and not cached', async () => {
    const cache = new MemoryWeightCache();
    await expect(loadHubModel('owner/own-head', { baseUrl: mirror.origin, cache, maxBytes: tiedBytes(TINY) })).rejects.toThrow(
      /"owner\/own-head" at .* was refused after its download \(it is not kept\): This GPT-2 is too large/,
    );
    expect(cache.keys()).toEqual([]);
  });

  it('names the field of an index it cannot read', async () => {
    await expect(loadHubModel('owner/bad-index', { baseUrl: mirror.origin })).rejects.toThrow(
      /model\.safetensors\.index\.json: weight_map\.wte\.weight: Invalid type: Expected string but received 5\.$/,
    );
  });

  it('says which field of a cached model list is unreadable, and downloads instead', async () => {
    const cache = new MemoryWeightCache();
    const list = { version: 1, files: [{ name: 'config.json', bytes: 'many' }] };
    await cache.put(weightCacheKey(mirror.origin, 'tiny', '.atlas-cache-manifest.json'), json(list));
    const load = await loadHubModel('tiny', { baseUrl: mirror.origin, cache });
    expect(load.fromCache).toBe(false);
    expect(load.cacheWarning).toMatch(/^The model cache could not be read \(its list of files is unreadable: files\[0\]\.bytes: Invalid type: Expected number but received "many"\); downloading instead\./);
    expect((await loadHubModel('tiny', { baseUrl: mirror.origin, cache })).fromCache).toBe(true);
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
