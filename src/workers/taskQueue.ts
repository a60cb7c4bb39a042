import { abortError } from '../lib/abort';

/** What the user just asked for goes before background work (icons). */
export type Priority = 'user' | 'background';

export interface TaskOptions {
  /** What the task does, as a task waiting behind it names it: "feature visualisation (16 directions)". */
  label: string;
  priority?: Priority;
  /** The caller's cancel: a waiting task leaves the queue at once, a running one sees it in its own signal. */
  signal?: AbortSignal;
  /** Told, while the task waits, which task it waits for (again whenever that changes). */
  onWait?: (runningLabel: string) => void;
  /** A background task that a user's task may stop; it is started again from scratch when its turn comes back. */
  preemptible?: boolean;
}

/** Why a running task's signal aborted, besides its caller's cancel. */
const PREEMPTED = Symbol('preempted');

interface Entry {
  readonly options: TaskOptions;
  readonly work: (signal: AbortSignal, turn: Turn) => Promise<unknown>;
  resolve(value: unknown): void;
  reject(error: unknown): void;
  /** Aborts the running work: PREEMPTED, or the error that superseded it. */
  stop?: AbortController;
  /** The label last reported to onWait. */
  toldWaitingFor?: string;
}

/** What a running task may do with its turn besides working. */
export interface Turn {
  /**
   * Lets the user tasks waiting now run to their end, then resumes (at once when none waits). For a long task whose
   * state is its own until it ends (SAE training): a short request does not wait for all of it.
   */
  lend(): Promise<void>;
}

/** The turn a running task lent: those it lets go first, and how it resumes. */
interface Lent {
  lender: Entry;
  borrowers: Set<Entry>;
  resume(): void;
}

/**
 * One task at a time over a stateful resource (a worker's loaded model, its recordings, TF.js's global backend):
 * each task runs alone from start to end, even across its awaits, so no task sees another's half-done state; only a
 * task that keeps its state to itself lends its turn (`Turn.lend`) to the user tasks waiting. User tasks go before
 * background ones and preempt a preemptible background task; within a priority, first come first served.
 * `supersede` ends every task queued or running (a new model makes their answers meaningless).
 */
export class TaskQueue {
  private running: Entry | null = null;
  private readonly waiting: Entry[] = [];
  private lent: Lent | null = null;

  /** The running task's label, or null when idle. */
  get current(): string | null {
    return this.running?.options.label ?? null;
  }


  /** Runs `work` when its turn comes, with a signal that aborts on the caller's cancel, a preemption or a supersede. */
  run<T>(options: TaskOptions, work: (signal: AbortSignal, turn: Turn) => Promise<T>): Promise<T> {
    const { signal } = options;
    if (signal?.aborted) return Promise.reject(abortError());
    return new Promise<T>((resolve, reject) => {
      const entry: Entry = { options, work, resolve: resolve as (value: unknown) => void, reject };
      signal?.addEventListener(
        'abort',
        () => {
          const at = this.waiting.indexOf(entry);
          if (at < 0) return; // running: its own signal carries the cancel
          this.waiting.splice(at, 1);
          reject(abortError());
        },
        { once: true },
      );
      this.enqueue(entry);
      this.pump();
      this.tellWaiting();
    });
  }

  /** Ends every task queued or running with `error` (a running one when it next checks its signal). */
  supersede(error: Error): void {
    for (const entry of this.waiting.splice(0)) entry.reject(error);
    this.running?.stop?.abort(error);
    // A task that lent its turn sees the error when it resumes, once the borrower has stopped.
    this.lent?.lender.stop?.abort(error);
  }

  /** `entry` (running) lets the user tasks waiting now go first; it resumes when they have ended. */
  private lend(entry: Entry): Promise<void> {
    const borrowers = this.waiting.filter((e) => (e.options.priority ?? 'user') === 'user');
    if (this.running !== entry || borrowers.length === 0) return Promise.resolve();
    return new Promise<void>((resume) => {
      this.lent = { lender: entry, borrowers: new Set(borrowers), resume };
      this.running = null;
      this.pump();
      this.tellWaiting();
    });
  }

  private enqueue(entry: Entry, front = false): void {
    const user = (entry.options.priority ?? 'user') === 'user';
    const firstBackground = this.waiting.findIndex((e) => e.options.priority === 'background');
    const end = firstBackground < 0 ? this.waiting.length : firstBackground;
    if (user) this.waiting.splice(end, 0, entry);
    else if (front) this.waiting.splice(end, 0, entry);
    else this.waiting.push(entry);
    const running = this.running;
    if (user && running?.options.priority === 'background' && running.options.preemptible) running.stop?.abort(PREEMPTED);
  }

  private pump(): void {
    if (this.running) return;
    const lent = this.lent;
    if (lent) {
      const next = this.waiting.findIndex((e) => lent.borrowers.has(e));
      if (next < 0) {
        // Every borrower has ended (or left the queue): the lender takes its turn back.
        this.lent = null;
        this.running = lent.lender;
        lent.resume();
        return;
      }
      this.start(this.waiting.splice(next, 1)[0]);
      return;
    }
    const entry = this.waiting.shift();
    if (entry) this.start(entry);
  }

  private start(entry: Entry): void {
    this.running = entry;
    const stop = new AbortController();
    entry.stop = stop;
    const signal = entry.options.signal ? AbortSignal.any([entry.options.signal, stop.signal]) : stop.signal;
    // The slot is free before the caller hears the answer, so that its next call does not wait for a finished task.
    const settle = (outcome: () => void) => {
      this.running = null;
      outcome();
      this.pump();
      this.tellWaiting();
    };
    const turn: Turn = { lend: () => this.lend(entry) };
    Promise.resolve()
      .then(() => entry.work(signal, turn))
      .then(
        (value) => settle(() => entry.resolve(value)),
        (error) =>
          settle(() => {
            const why = stop.signal.reason;
            if (why === PREEMPTED && !entry.options.signal?.aborted) this.enqueue(entry, true);
            else entry.reject(stop.signal.aborted && why instanceof Error ? why : error);
          }),
      );
  }

  private tellWaiting(): void {
    const label = this.running?.options.label;
    if (!label) return;
    for (const entry of this.waiting) {
      if (entry.toldWaitingFor === label) continue;
      entry.toldWaitingFor = label;
      entry.options.onWait?.(label);
    }
  }
}
