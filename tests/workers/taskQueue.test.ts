import { describe, expect, it } from 'vitest';
import { isAbortError } from '../../src/lib/abort';
import { TaskQueue } from '../../src/workers/taskQueue';

/** A promise and the functions that settle it, for tasks whose end the test decides. */
function gate<T = void>() {
  let open!: (value: T) => void;
  const opened = new Promise<T>((resolve) => (open = resolve));
  return { open, opened };
}

/** Resolves when `signal` aborts (a task that runs until stopped). */
const untilAborted = (signal: AbortSignal) =>
  new Promise<never>((_, reject) => signal.addEventListener('abort', () => reject(signal.reason ?? new Error('aborted')), { once: true }));

describe('TaskQueue', () => {
  it('runs one task at a time, in order, even across awaits', async () => {
    const queue = new TaskQueue();
    const log: string[] = [];
    const task = (name: string, g: ReturnType<typeof gate<void>>) =>
      queue.run({ label: name }, async () => {
        log.push(`${name} start`);
        await g.opened;
        log.push(`${name} end`);
        return name;
      });
    const [ga, gb] = [gate(), gate()];
    const a = task('a', ga);
    const b = task('b', gb);
    await Promise.resolve();
    gb.open();
    await new Promise((r) => setImmediate(r));
    expect(log).toEqual(['a start']);
    ga.open();
    expect(await Promise.all([a, b])).toEqual(['a', 'b']);
    expect(log).toEqual(['a start', 'a end', 'b start', 'b end']);
  });

  it('puts user tasks before waiting background tasks and tells a waiting task what it waits for', async () => {
    const queue = new TaskQueue();
    const order: string[] = [];
    const first = gate();
    const blocker = queue.run({ label: 'blocker' }, () => first.opened);
    const waits: string[] = [];
    const icons = queue.run({ label: 'icons', priority: 'background' }, async () => void order.push('icons'));
    const concept = queue.run({ label: 'concept', onWait: (w) => waits.push(w) }, async () => void order.push('concept'));
    expect(waits).toEqual(['blocker']);
    first.open();
    await Promise.all([blocker, icons, concept]);
    expect(order).toEqual(['concept', 'icons']);
  });

  it('stops a preemptible background task for a user task and runs it again afterwards', async () => {
    const queue = new TaskQueue();
    const log: string[] = [];
    let runs = 0;
    const started = gate();
    const icons = queue.run({ label: 'icons', priority: 'background', preemptible: true }, async (signal) => {
      runs++;
      log.push(`icons run ${runs}`);
      if (runs === 1) {
        started.open();
        await untilAborted(signal);
      }
      return 'icons done';
    });
    await started.opened;
    const concept = queue.run({ label: 'concept' }, async () => void log.push('concept'));
    expect(await concept).toBeUndefined();
    expect(await icons).toBe('icons done');
    expect(log).toEqual(['icons run 1', 'concept', 'icons run 2']);
  });

  it('lets a waiting task be cancelled without running it, and a running one sees its caller\'s cancel', async () => {
    const queue = new TaskQueue();
    const running = new AbortController();
    const started = gate();
    const first = queue.run({ label: 'first', signal: running.signal }, async (signal) => {
      started.open();
      return untilAborted(signal);
    });
    const waiting = new AbortController();
    let ran = false;
    const second = queue.run({ label: 'second', signal: waiting.signal }, async () => void (ran = true));
    await started.opened;
    waiting.abort();
    await expect(second).rejects.toSatisfy(isAbortError);
    running.abort();
    await expect(first).rejects.toBeDefined();
    expect(ran).toBe(false);
    expect(queue.current).toBeNull();
  });

  it('supersede ends every queued and running task with its reason, and later tasks still run', async () => {
    const queue = new TaskQueue();
    const started = gate();
    const running = queue.run({ label: 'polysemanticity' }, async (signal) => {
      started.open();
      return untilAborted(signal);
    });
    const queued = queue.run({ label: 'gradients' }, async () => 'never');
    await started.opened;
    queue.supersede(new Error('Stopped: another model is being loaded.'));
    const load = queue.run({ label: 'load' }, async () => 'loaded');
    await expect(running).rejects.toThrow(/another model/);
    await expect(queued).rejects.toThrow(/another model/);
    expect(await load).toBe('loaded');
  });

  it('a task that throws synchronously rejects and frees the queue', async () => {
    const queue = new TaskQueue();
    const bad = queue.run({ label: 'bad' }, () => {
      throw new Error('boom');
    });
    await expect(bad).rejects.toThrow('boom');
    expect(await queue.run({ label: 'next' }, async () => 1)).toBe(1);
  });

  it('is free as soon as a task has answered: the next call does not wait for it', async () => {
    const queue = new TaskQueue();
    await queue.run({ label: 'first' }, async () => 1);
    const waits: string[] = [];
    await queue.run({ label: 'second', onWait: (w) => waits.push(w) }, async () => 2);
    expect(waits).toEqual([]);
  });

  it('a long task lends its turn: the user tasks waiting then run to their end, background and later tasks wait for the lender', async () => {
    const queue = new TaskQueue();
    const log: string[] = [];
    const [lendNow, finish] = [gate(), gate()];
    const long = queue.run({ label: 'SAE training' }, async (_, turn) => {
      log.push('long start');
      await lendNow.opened;
      await turn.lend();
      log.push('long resumes');
      await finish.opened;
      log.push('long end');
    });
    const icons = queue.run({ label: 'icons', priority: 'background' }, async () => void log.push('icons'));
    const short = queue.run({ label: 'contexts' }, async () => {
      log.push('contexts');
      // Arrives while the turn is lent: it waits for the lender, not only for this borrower.
      void queue.run({ label: 'later' }, async () => void log.push('later'));
    });
    await new Promise((r) => setImmediate(r));
    expect(log).toEqual(['long start']);
    lendNow.open();
    await short;
    await new Promise((r) => setImmediate(r));
    expect(log).toEqual(['long start', 'contexts', 'long resumes']);
    finish.open();
    await long;
    await icons;
    expect(log).toEqual(['long start', 'contexts', 'long resumes', 'long end', 'later', 'icons']);
  });

  it('lending with no user task waiting goes on at once; a borrower cancelled while it waits gives the turn back', async () => {
    const queue = new TaskQueue();
    const log: string[] = [];
    const [started, borrowerRuns, lend] = [gate(), gate(), gate()];
    const long = queue.run({ label: 'long' }, async (_, turn) => {
      await turn.lend();
      log.push('no one waited');
      started.open();
      await lend.opened;
      await turn.lend();
      log.push('resumed');
    });
    await started.opened;
    const first = queue.run({ label: 'first' }, async () => {
      log.push('first');
      await borrowerRuns.opened;
    });
    const cancel = new AbortController();
    const second = queue.run({ label: 'second', signal: cancel.signal }, async () => void log.push('second'));
    await new Promise((r) => setImmediate(r));
    lend.open();
    await new Promise((r) => setImmediate(r));
    expect(log).toEqual(['no one waited', 'first']);
    cancel.abort();
    await expect(second).rejects.toMatchObject({ name: 'AbortError' });
    borrowerRuns.open();
    await first;
    await long;
    expect(log).toEqual(['no one waited', 'first', 'resumed']);
  });

  it('a supersede while the turn is lent stops the borrower and the lender', async () => {
    const queue = new TaskQueue();
    const borrowing = gate();
    const long = queue.run({ label: 'long' }, async (signal, turn) => {
      await new Promise((r) => setImmediate(r));
      await turn.lend();
      signal.throwIfAborted();
      return 'finished';
    });
    const borrower = queue.run({ label: 'borrower' }, async (signal) => {
      borrowing.open();
      return untilAborted(signal);
    });
    await borrowing.opened;
    queue.supersede(new Error('Stopped: a new atlas is being built.'));
    await expect(borrower).rejects.toThrow(/new atlas/);
    await expect(long).rejects.toThrow(/new atlas/);
    expect(await queue.run({ label: 'next' }, async () => 1)).toBe(1);
  });
});
