import { getEventListeners } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { RpcClient } from '../../src/workers/rpc';
import type { testService } from './testService.worker';
import { nodeWorkerEndpoint } from './nodeEndpoint';

const file = new URL('./testService.worker.ts', import.meta.url);
let client: RpcClient<typeof testService>;
const make = (grace = 300) => (client = new RpcClient<typeof testService>(() => nodeWorkerEndpoint(file), grace));

afterEach(() => client?.terminate());

describe('worker RPC', () => {
  it('matches answers to their requests', async () => {
    make();
    const answers = await Promise.all([1, 2, 3].map((v) => client.call('echo', [{ v }])));
    expect(answers).toEqual([{ v: 1 }, { v: 2 }, { v: 3 }]);
  });

  it('relays progress events of a call', async () => {
    make();
    const seen: number[] = [];
    await expect(client.call('count', [4], { onProgress: (p) => seen.push(p) })).resolves.toBe(4);
    expect(seen).toEqual([0, 1, 2, 3]);
  });

  it('rejects with the error the worker threw, name and message kept', async () => {
    make();
    const error = await client.call('fail', ['bad shape']).catch((e) => e);
    expect(error.name).toBe('RangeError');
    expect(error.message).toBe('bad shape');
    await expect(client.call('echo', ['still alive'])).resolves.toBe('still alive');
  });

  it('rejects an unknown method with a clear message', async () => {
    make();
    await expect(client.call('nope' as never, [] as never)).rejects.toThrow(/no method "nope"/);
  });

  it("cancels a cooperative call with the worker's AbortError, keeping the worker", async () => {
    make();
    const worker = await client.call('threadId', []);
    const controller = new AbortController();
    // Cancelled once it is under way: the first step it reports.
    const call = client.call('count', [1000], { signal: controller.signal, onProgress: () => controller.abort() });
    const error = await call.catch((e) => e);
    expect(error).toMatchObject({ name: 'AbortError', message: 'count cancelled' });
    expect(client.lostWorkers).toBe(0);
    await expect(client.call('threadId', [])).resolves.toBe(worker);
  });

  it('restarts a worker whose asynchronous call ignores the cancel', async () => {
    make(200);
    const worker = await client.call('threadId', []);
    const controller = new AbortController();
    const call = client.call('sleep', [60_000], { signal: controller.signal, onProgress: () => controller.abort() });
    const error = await call.catch((e) => e);
    expect(error.name).toBe('AbortError');
    expect(client.lostWorkers).toBe(1);
    await expect(client.call('threadId', [])).resolves.not.toBe(worker);
  });

  it('cancels a call stuck in synchronous work by restarting the worker', async () => {
    make(200);
    const worker = await client.call('threadId', []);
    const controller = new AbortController();
    // Cancelled once the worker says it is spinning, so the cancel cannot reach it first.
    const call = client.call('spin', [], { signal: controller.signal, onProgress: () => controller.abort() });
    const error = await call.catch((e) => e);
    expect(error.name).toBe('AbortError');
    expect(client.lostWorkers).toBe(1);
    await expect(client.call('threadId', [])).resolves.not.toBe(worker);
    await expect(client.call('echo', ['fresh worker'])).resolves.toBe('fresh worker');
  });

  it('rejects pending calls with the reason when the worker dies', async () => {
    make();
    const pending = client.call('count', [1000]);
    const error = await client.call('die', []).catch((e) => e);
    expect(error.message).toMatch(/exited with code 3/);
    await expect(pending).rejects.toThrow(/exited with code 3/);
    expect(client.lostWorkers).toBe(1);
    await expect(client.call('echo', ['after death'])).resolves.toBe('after death');
  });

  it('rejects pending calls when terminated; a later call starts a new worker', async () => {
    make();
    const worker = await client.call('threadId', []);
    const pending = client.call('count', [1000]);
    client.terminate();
    await expect(pending).rejects.toThrow('The worker was shut down.');
    expect(client.pendingCount).toBe(0);
    expect(client.lostWorkers).toBe(1);
    await expect(client.call('threadId', [])).resolves.not.toBe(worker);
    await expect(client.call('echo', ['after shutdown'])).resolves.toBe('after shutdown');
  });

  it.each([
    ['a function argument', (signal: AbortSignal) => client.call('echo', [() => 1], { signal })],
    [
      'a buffer listed twice for transfer',
      (signal: AbortSignal) => {
        const values = new Float32Array(4);
        return client.call('sum', [values], { signal, transfer: [values.buffer, values.buffer] });
      },
    ],
  ])('rejects a call that cannot be sent (%s), leaving nothing pending', async (_, send) => {
    make();
    const controller = new AbortController();
    await expect(send(controller.signal)).rejects.toMatchObject({ name: 'DataCloneError' });
    expect(client.pendingCount).toBe(0);
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
    await expect(client.call('echo', ['still alive'])).resolves.toBe('still alive');
    expect(client.lostWorkers).toBe(0);
  });

  it('moves buffers with transfer in both directions', async () => {
    make();
    const { values } = await client.call('ones', [1000]);
    expect(values).toBeInstanceOf(Float32Array);
    expect(values.length).toBe(1000);
    const sent = new Float32Array(10).fill(2);
    await expect(client.call('sum', [sent], { transfer: [sent.buffer] })).resolves.toBe(20);
    expect(sent.byteLength).toBe(0); // detached: moved, not copied
  });

  it('rejects at once when the signal is already aborted', async () => {
    make();
    const controller = new AbortController();
    controller.abort();
    await expect(client.call('echo', [1], { signal: controller.signal })).rejects.toMatchObject({ name: 'AbortError' });
  });
});
