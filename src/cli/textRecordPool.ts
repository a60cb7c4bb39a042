import type { Worker } from 'node:worker_threads';
import type { TextForward } from '../model/text/recordText';
import { modelForward } from '../model/text/recordText';
import type { ModelFile, TextModel } from '../model/text/textModel';
import { tsThread } from './tsThread';

const THREAD_ENTRY = new URL('./textRecordThread.ts', import.meta.url);

/** What the pool asks of a recording thread. */
export type RecordThreadRequest =
  | { kind: 'open'; files: ModelFile[]; name: string; backend: string }
  | { kind: 'record'; id: number; tokenIds: Int32Array[]; layer: string; pooled: boolean };

/** What a recording thread answers: `id` is the request's (null for a failed open). */
export type RecordThreadReply = { kind: 'opened' } | { kind: 'values'; id: number; values: Float32Array } | { kind: 'failed'; id: number | null; message: string };

/** A text forward that splits each batch's windows between this thread and worker threads, each with its own copy of the model. */
export interface TextRecordPool extends TextForward {
  /** Threads running the model, this one included. */
  readonly threads: number;
  /** Ends the worker threads; what they hold is freed. */
  close(): Promise<void>;
}

interface Pending {
  resolve(values: Float32Array): void;
  reject(error: Error): void;
}

/** One worker thread with its copy of the model, and the batches it owes. */
class RecordThread {
  private readonly pending = new Map<number, Pending>();
  private nextId = 0;
  private failure: Error | null = null;
  /** The open under way: a thread that stops before it answers rejects it as it rejects the batches it owes. */
  private opening: Pick<Pending, 'reject'> | null = null;

  constructor(private readonly worker: Worker) {
    worker.on('message', (reply: RecordThreadReply) => {
      if (reply.kind === 'opened' || reply.id === null) return;
      const call = this.pending.get(reply.id);
      this.pending.delete(reply.id);
      if (reply.kind === 'values') call?.resolve(reply.values);
      else call?.reject(new Error(reply.message));
    });
    worker.on('error', (e) => this.fail(e.message));
    worker.on('exit', (code) => this.fail(`it exited with code ${code}`));
  }

  /** Loads the model in the thread; rejects with the thread's reason, or when the thread stops first. */
  open(files: ModelFile[], name: string, backend: string): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      const onReply = (reply: RecordThreadReply) => {
        if (reply.kind === 'opened') resolve();
        else if (reply.kind === 'failed' && reply.id === null) reject(new Error(reply.message));
        else return;
        this.opening = null;
        this.worker.off('message', onReply);
      };
      this.opening = { reject };
      this.worker.on('message', onReply);
      this.post({ kind: 'open', files, name, backend });
    });
  }

  values(tokenIds: Int32Array[], layer: string, pooled: boolean): Promise<Float32Array> {
    if (this.failure) return Promise.reject(this.failure);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.post({ kind: 'record', id, tokenIds, layer, pooled });
    });
  }

  async close(): Promise<void> {
    this.worker.removeAllListeners('exit');
    await this.worker.terminate();
  }

  private post(request: RecordThreadRequest): void {
    this.worker.postMessage(request);
  }

  private fail(reason: string): void {
    this.failure ??= new Error(`A recording thread stopped: ${reason}`);
    for (const call of [...this.pending.values(), ...(this.opening ? [this.opening] : [])]) call.reject(this.failure);
    this.pending.clear();
    this.opening = null;
  }
}

/**
 * Records on `threads` threads: this one with `model`, and threads - 1 worker threads, each loading its own copy
 * from `files` (shared with them, not copied per thread) on `backend` (one wasm thread each). Each batch's windows
 * are split into consecutive parts, one per thread, and the values come back in window order. A window's values do
 * not depend on which windows share its batch (the forward treats each window alone, and XNNPACK's products do not
 * depend on the rows beside a row), so the recording equals the one-thread recording bit for bit (tested).
 * Memory: a copy of the weights per thread.
 */
export async function openTextRecordPool(model: TextModel, files: readonly ModelFile[], threads: number, backend: string): Promise<TextRecordPool> {
  const shared = files.map(sharedFile);
  const helpers = Array.from({ length: Math.max(0, threads - 1) }, () => new RecordThread(tsThread(THREAD_ENTRY)));
  const close = async () => {
    await Promise.all(helpers.map((h) => h.close()));
  };
  try {
    await Promise.all(helpers.map((h) => h.open(shared, model.info.name, backend)));
  } catch (e) {
    await close();
    throw new Error(`The recording threads could not load the model: ${(e as Error).message}`, { cause: e });
  }
  const own = modelForward(model);
  return {
    threads: helpers.length + 1,
    async values(tokenIds, layer, pooled) {
      const parts = split(tokenIds, helpers.length + 1);
      const theirs = parts.slice(1).map((part, k) => helpers[k].values(part, layer, pooled));
      // Their parts are already under way: this thread's part runs beside them.
      const mine = await own.values(parts[0], layer, pooled).catch((e: unknown) => {
        theirs.forEach((p) => p.catch(() => undefined));
        throw e;
      });
      const all = [mine, ...(await Promise.all(theirs))];
      const out = new Float32Array(all.reduce((n, v) => n + v.length, 0));
      let at = 0;
      for (const v of all) {
        out.set(v, at);
        at += v.length;
      }
      return out;
    },
    close,
  };
}

/** `items` in at most `parts` consecutive runs, as even as they go, the longer ones first; never an empty run. */
export function split<T>(items: readonly T[], parts: number): T[][] {
  const count = Math.max(1, Math.min(parts, items.length));
  const runs: T[][] = [];
  let start = 0;
  for (let k = 0; k < count; k++) {
    const size = Math.floor(items.length / count) + (k < items.length % count ? 1 : 0);
    runs.push(items.slice(start, start + size));
    start += size;
  }
  return runs;
}

/** The file's bytes in memory every thread can read: one copy for all of them. */
function sharedFile(file: ModelFile): ModelFile {
  const source = file.bytes instanceof Uint8Array ? file.bytes : new Uint8Array(file.bytes);
  const bytes = new Uint8Array(new SharedArrayBuffer(source.byteLength));
  bytes.set(source);
  return { name: file.name, bytes };
}
