import * as tf from '@tensorflow/tfjs';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nodeModelServiceDeps } from '../../src/cli/nodeServices';
import { isAbortError } from '../../src/lib/abort';
import { openSession, type OpenSessionDeps } from '../../src/model/openSession';
import { MemoryWeightCache } from '../../src/model/text/weightCache';

const MODEL_DIR = new URL('../../models/text-gpt2/', import.meta.url);

/** The built-in GPT-2 served as a hub mirror would (`/<id>/resolve/main/<file>`), a piece per event-loop turn. */
function mirror(): Promise<{ origin: string; server: Server }> {
  const files: Record<string, Uint8Array> = {
    'config.json': readFileSync(new URL('config.json', MODEL_DIR)),
    'model.safetensors': readFileSync(new URL('model.safetensors', MODEL_DIR)),
  };
  const server = createServer(async (request, response) => {
    const file = files[decodeURIComponent(new URL(request.url!, 'http://x').pathname).split('/resolve/main/')[1] ?? ''];
    if (!file) return void response.writeHead(404).end('Entry not found');
    response.writeHead(200, { 'content-length': `${file.byteLength}` });
    if (request.method === 'HEAD') return void response.end();
    for (let at = 0; at < file.byteLength && !response.destroyed; at += 1 << 16) {
      response.write(file.subarray(at, at + (1 << 16)));
      await new Promise((resolve) => setImmediate(resolve));
    }
    response.end();
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server })));
}

describe('opening a model as a session', () => {
  let served: Awaited<ReturnType<typeof mirror>>;
  const deps = (cache: MemoryWeightCache): OpenSessionDeps => ({ ...nodeModelServiceDeps(), weightCache: () => cache, hashWeights: async () => 'hash' });
  beforeAll(async () => {
    await tf.setBackend('cpu');
    served = await mirror();
  });
  afterAll(() => {
    served.server.closeAllConnections();
    served.server.close();
  });

  it('a hub model that could not be cached still loads, and the summary carries the notice for the page to show', async () => {
    const session = await openSession({ kind: 'hub', id: 'local/tiny-gpt2', baseUrl: served.origin }, deps(new MemoryWeightCache({ maxBytes: 1024 })), {
      signal: new AbortController().signal,
      onProgress: () => {},
    });
    try {
      const summary = session.describe('x');
      expect(summary.modality).toBe('text');
      expect(summary.notices?.join(' ')).toMatch(/could not be kept for offline use/);
    } finally {
      session.dispose();
    }
  });

  it('the two built-in GPT-2s open by size, each under its own name and width, and dispose of every tensor', async () => {
    const before = tf.memory().numTensors;
    for (const [size, name, width] of [['small', 'moby-gpt2 (built-in)', 64], ['wide', 'moby-kjv-gpt2-wide (built-in)', 128]] as const) {
      const session = await openSession({ kind: 'default-text', size }, deps(new MemoryWeightCache()), { signal: new AbortController().signal, onProgress: () => {} });
      try {
        expect(session.describe('x')).toMatchObject({ modality: 'text', name, nEmbd: width });
      } finally {
        session.dispose();
      }
    }
    expect(tf.memory().numTensors).toBe(before);
  });

  it('a download cancelled part way rejects as cancelled, keeps nothing in the cache and leaks no tensors', async () => {
    const cache = new MemoryWeightCache();
    const abort = new AbortController();
    const before = tf.memory().numTensors;
    const opening = openSession({ kind: 'hub', id: 'local/tiny-gpt2', baseUrl: served.origin }, deps(cache), {
      signal: abort.signal,
      onProgress: (p) => {
        if (p.done > 0 && p.done < p.total) abort.abort();
      },
    });
    await expect(opening).rejects.toSatisfy(isAbortError);
    expect(cache.storedBytes()).toBe(0);
    expect(tf.memory().numTensors).toBe(before);
  });
});
