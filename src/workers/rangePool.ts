import { kernelFor, type KernelName } from '../compute/parallel/kernels';
import { splitRange, type RangePool } from '../compute/parallel/runner';
import type { Endpoint, WorkerEndpoint } from './rpc';

type RangeMessage =
  | { type: 'range'; id: number; kernel: KernelName; input: unknown; start: number; end: number }
  | { type: 'done'; id: number }
  | { type: 'error'; id: number; error: { name: string; message: string } };

/** Serves kernel ranges on a worker's endpoint (call this in a pool thread's entry file). */
export function serveRanges(endpoint: Endpoint): void {
  endpoint.addEventListener('message', (event: MessageEvent) => {
    const message = event.data as RangeMessage;
    if (message.type !== 'range') return;
    const { id, kernel, input, start, end } = message;
    try {
      kernelFor(kernel)(input as never, start, end);
      endpoint.postMessage({ type: 'done', id } satisfies RangeMessage);
    } catch (e) {
      const error = e instanceof Error ? { name: e.name, message: e.message } : { name: 'Error', message: String(e) };
      endpoint.postMessage({ type: 'error', id, error } satisfies RangeMessage);
    }
  });
}

interface Member {
  endpoint: WorkerEndpoint;
  /** Ranges sent and not answered, by id. */
  pending: Map<number, { resolve: () => void; reject: (e: Error) => void }>;
}

/**
 * A pool of `threads - 1` workers plus the calling thread: a run posts one range to each worker, computes the
 * first range itself, then waits for the workers' answers. Workers are started at once and live until `dispose`;
 * one that fails rejects its ranges with the reason and is started afresh for the next run.
 */
export function createRangePool(spawn: () => WorkerEndpoint, threads: number): RangePool {
  const count = Math.max(1, Math.floor(threads));
  let nextId = 0;
  let disposed = false;
  const members: (Member | null)[] = [];
  const start = (slot: number): Member => {
    const member: Member = { endpoint: spawn(), pending: new Map() };
    const fail = (message: string) => {
      if (members[slot] !== member) return;
      members[slot] = null;
      member.endpoint.terminate();
      const error = new Error(`A range pool worker failed: ${message}`);
      for (const p of member.pending.values()) p.reject(error);
      member.pending.clear();
    };
    member.endpoint.addEventListener('message', (event: MessageEvent) => {
      const message = event.data as RangeMessage;
      const waiting = message.type === 'range' ? undefined : member.pending.get(message.id);
      if (!waiting) return;
      member.pending.delete(message.id);
      if (message.type === 'done') waiting.resolve();
      else if (message.type === 'error') waiting.reject(Object.assign(new Error(message.error.message), { name: message.error.name }));
    });
    member.endpoint.addEventListener('error', (event: Event) => fail((event as ErrorEvent).message ?? 'worker error'));
    member.endpoint.addEventListener('messageerror', () => fail('a message could not be read'));
    members[slot] = member;
    return member;
  };
  for (let slot = 0; slot < count - 1; slot++) start(slot);

  return {
    threads: count,
    sharesMemory: count > 1,
    async run(kernel, input, total) {
      if (disposed) throw new Error('The range pool was disposed.');
      const ranges = splitRange(total, count);
      const answers = ranges.slice(1).map(([from, to], r) => {
        const member = members[r] ?? start(r);
        const id = nextId++;
        return new Promise<void>((resolve, reject) => {
          member.pending.set(id, { resolve, reject });
          member.endpoint.postMessage({ type: 'range', id, kernel, input, start: from, end: to } satisfies RangeMessage);
        });
      });
      // Settle every answer even when this thread's range throws, so no rejection goes unhandled.
      const settled = Promise.allSettled(answers);
      if (total > 0) kernelFor(kernel)(input, ranges[0][0], ranges[0][1]);
      for (const result of await settled) if (result.status === 'rejected') throw result.reason;
    },
    dispose() {
      disposed = true;
      members.forEach((member, slot) => {
        if (!member) return;
        members[slot] = null;
        member.endpoint.terminate();
        const error = new Error('The range pool was disposed.');
        for (const p of member.pending.values()) p.reject(error);
      });
    },
  };
}
