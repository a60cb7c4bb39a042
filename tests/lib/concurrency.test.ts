import { describe, expect, it } from 'vitest';
import { createLimiter } from '../../src/lib/concurrency';

describe('createLimiter', () => {
  it('runs at most the limit at once, in the order asked, through failures', async () => {
    const limit = createLimiter(3);
    let running = 0;
    let most = 0;
    const started: number[] = [];
    const results = await Promise.allSettled(
      Array.from({ length: 20 }, (_, i) =>
        limit(async () => {
          started.push(i);
          most = Math.max(most, ++running);
          await new Promise((r) => setTimeout(r, 1 + (i % 4)));
          running--;
          if (i % 5 === 0) throw new Error(`task ${i}`);
          return i;
        }),
      ),
    );
    expect(most).toBe(3);
    expect(started).toEqual(Array.from({ length: 20 }, (_, i) => i));
    expect(results.filter((r) => r.status === 'rejected')).toHaveLength(4);
    expect(results[1]).toEqual({ status: 'fulfilled', value: 1 });
  });

  it('refuses a limit below one', () => {
    expect(() => createLimiter(0)).toThrow(/from 1/);
  });
});
