import { abortError } from '../lib/abort';

/** What a worker (or its global scope) offers for messaging: the Web Worker API subset the RPC needs. */
export interface Endpoint {
  postMessage(message: unknown, transfer?: Transferable[]): void;
  addEventListener(type: 'message', listener: (event: MessageEvent) => void): void;
  addEventListener(type: 'error' | 'messageerror', listener: (event: Event) => void): void;
}

/** A worker the client owns: it can be terminated (and is re-created on the next call). */
export interface WorkerEndpoint extends Endpoint {
  terminate(): void;
}

/** Passed to every service method: the call's cancellation signal and a progress channel. */
export interface CallContext {
  signal: AbortSignal;
  progress(value: unknown): void;
}

type ServiceMethod = (context: CallContext, ...args: any[]) => unknown;
export type Service = { [method: string]: ServiceMethod };

export type Args<F> = F extends (context: CallContext, ...args: infer A) => unknown ? A : never;
export type Result<F> = F extends (...args: any[]) => infer R ? Awaited<R> : never;

type Message =
  | { type: 'call'; id: number; method: string; args: unknown[] }
  | { type: 'cancel'; id: number }
  | { type: 'result'; id: number; value: unknown }
  | { type: 'error'; id: number; error: { name: string; message: string } }
  | { type: 'progress'; id: number; value: unknown };

const transfers = new WeakMap<object, Transferable[]>();

/** Marks a service result whose buffers move to the caller instead of being copied. */
export function withTransfer<T extends object>(value: T, transferables: Transferable[]): T {
  transfers.set(value, transferables);
  return value;
}

/** Serves a plain object of methods over an endpoint (call this in a *.worker.ts file). */
export function exposeRpc(service: Service, endpoint: Endpoint): void {
  const running = new Map<number, AbortController>();
  endpoint.addEventListener('message', async (event: MessageEvent) => {
    const message = event.data as Message;
    if (message.type === 'cancel') {
      running.get(message.id)?.abort();
      return;
    }
    if (message.type !== 'call') return;
    const { id, method, args } = message;
    const controller = new AbortController();
    running.set(id, controller);
    try {
      const fn = service[method];
      if (typeof fn !== 'function') throw new Error(`The worker has no method "${method}".`);
      const context: CallContext = {
        signal: controller.signal,
        progress: (value) => endpoint.postMessage({ type: 'progress', id, value } satisfies Message),
      };
      const value = await fn(context, ...args);
      const transfer = value && typeof value === 'object' ? (transfers.get(value) ?? []) : [];
      endpoint.postMessage({ type: 'result', id, value } satisfies Message, transfer);
    } catch (e) {
      const error = e as Error;
      endpoint.postMessage({
        type: 'error',
        id,
        error: { name: error?.name ?? 'Error', message: error?.message ?? String(e) },
      } satisfies Message);
    } finally {
      running.delete(id);
    }
  });
}

export interface CallOptions {
  signal?: AbortSignal;
  onProgress?: (value: any) => void;
  transfer?: Transferable[];
}

interface Pending {
  resolve(value: unknown): void;
  reject(error: Error): void;
  onProgress?: (value: unknown) => void;
}

/** An error raised inside the worker, re-created on the caller's side with its name and message. */
export class RemoteError extends Error {
  constructor(name: string, message: string) {
    super(message);
    this.name = name;
  }
}

/**
 * Typed calls into a worker. Every call resolves or rejects: with the worker's error, with an AbortError
 * when cancelled, or with the reason when the worker dies. A call that ignores cancellation for
 * `cancelGraceMs` (synchronous library code) is stopped by terminating the worker; the next call starts a new one.
 */
export class RpcClient<S extends Service> {
  private worker: WorkerEndpoint | null = null;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private lost = 0;

  constructor(
    private readonly createWorker: () => WorkerEndpoint,
    private readonly cancelGraceMs = 500,
  ) {}

  private ensureWorker(): WorkerEndpoint {
    if (this.worker) return this.worker;
    const worker = this.createWorker();
    worker.addEventListener('message', (event: MessageEvent) => this.onMessage(event.data as Message));
    worker.addEventListener('error', (event: Event) => {
      const message = (event as ErrorEvent).message || 'the worker failed to load or crashed';
      (event as Event).preventDefault?.();
      this.fail(worker, new Error(`Worker error: ${message}`));
    });
    worker.addEventListener('messageerror', () => this.fail(worker, new Error('Worker sent a message that could not be read.')));
    this.worker = worker;
    return worker;
  }

  /** Workers dropped so far (restarted to cancel, crashed or terminated), each with the state it held. */
  get lostWorkers(): number {
    return this.lost;
  }

  /** Calls sent and not yet answered. */
  get pendingCount(): number {
    return this.pending.size;
  }

  /** Rejects every pending call and drops the worker (it is re-created on the next call). */
  fail(worker: WorkerEndpoint, error: Error): void {
    if (this.worker !== worker) return;
    this.worker = null;
    this.lost++;
    worker.terminate();
    const pending = [...this.pending.values()];
    this.pending.clear();
    for (const p of pending) p.reject(error);
  }

  private onMessage(message: Message): void {
    const p = 'id' in message ? this.pending.get(message.id) : undefined;
    if (!p) return; // an answer to a call that was already cancelled or failed
    if (message.type === 'progress') p.onProgress?.(message.value);
    else if (message.type === 'result') {
      this.pending.delete(message.id);
      p.resolve(message.value);
    } else if (message.type === 'error') {
      this.pending.delete(message.id);
      p.reject(new RemoteError(message.error.name, message.error.message));
    }
  }

  /** Calls `method` in the worker with `args`; settles as the class comment describes. */
  call<M extends keyof S & string>(method: M, args: Args<S[M]>, options: CallOptions = {}): Promise<Result<S[M]>> {
    const { signal } = options;
    if (signal?.aborted) return Promise.reject(abortError());
    const worker = this.ensureWorker();
    const id = this.nextId++;
    return new Promise<Result<S[M]>>((resolve, reject) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const onAbort = () => {
        worker.postMessage({ type: 'cancel', id } satisfies Message);
        timer = setTimeout(() => {
          if (!this.pending.has(id)) return;
          this.pending.delete(id);
          reject(abortError());
          // The worker is stuck in synchronous work; the other calls on it cannot finish either.
          this.fail(worker, new Error('The worker was restarted to cancel a call.'));
        }, this.cancelGraceMs);
      };
      const settle = () => {
        signal?.removeEventListener('abort', onAbort);
        clearTimeout(timer);
      };
      this.pending.set(id, {
        resolve: (v) => {
          settle();
          resolve(v as Result<S[M]>);
        },
        reject: (e) => {
          settle();
          reject(e);
        },
        onProgress: options.onProgress,
      });
      signal?.addEventListener('abort', onAbort);
      try {
        worker.postMessage({ type: 'call', id, method, args } satisfies Message, options.transfer ?? []);
      } catch (error) {
        // Arguments that cannot be cloned or transferred: the call never reached the worker.
        this.pending.delete(id);
        settle();
        reject(error);
      }
    });
  }

  /** Stops the worker and rejects its pending calls; a later call starts a new one. */
  terminate(): void {
    if (this.worker) this.fail(this.worker, new Error('The worker was shut down.'));
  }
}
