import { describe, expect, it } from 'vitest';
import { IconQueue, iconKey } from '../../src/featureVis/queue';

/** Every cell of g x g grids. */
const full = (...sizes: number[]) =>
  sizes.map((size) => ({ size, cells: Array.from({ length: size * size }, (_, k) => ({ i: k % size, j: Math.floor(k / size) })) }));

describe('IconQueue', () => {
  it('without a viewport serves the coarsest level first, in row order', () => {
    const q = new IconQueue(full(2, 4));
    expect(q.next(5).map((j) => j.key)).toEqual(['2:0:0', '2:1:0', '2:0:1', '2:1:1', '4:0:0']);
  });

  it('serves the visible cells of the current level first, nearest the view centre first', () => {
    const q = new IconQueue(full(4, 8));
    q.setViewport({ gridSize: 8, cells: [[2, 2], [3, 2], [4, 2], [2, 3], [3, 3], [4, 3], [2, 4], [3, 4], [4, 4]] });
    const first = q.next(9).map((j) => j.key);
    expect(first[0]).toBe('8:3:3');
    expect(new Set(first)).toEqual(new Set(['8:2:2', '8:3:2', '8:4:2', '8:2:3', '8:3:3', '8:4:3', '8:2:4', '8:3:4', '8:4:4']));
    // Then the other level's cells under the same view, before the rest of the current level.
    const next = q.next(4).map((j) => j.key);
    expect(next.every((k) => k.startsWith('4:'))).toBe(true);
    expect(next).toContain('4:1:1');
  });

  it('prefers the finer neighbouring level (zooming in) over the coarser one', () => {
    const q = new IconQueue(full(2, 4, 8));
    q.setViewport({ gridSize: 4, cells: [[0, 0]] });
    const keys = q.next(1 + 4 + 1).map((j) => j.key);
    expect(keys[0]).toBe('4:0:0');
    expect(keys.slice(1, 5).every((k) => k.startsWith('8:'))).toBe(true);
    expect(keys[5]).toBe('2:0:0');
  });

  it('reprioritises on zoom without handing out running or finished jobs again', () => {
    const q = new IconQueue(full(4));
    const running = q.next(2).map((j) => j.key);
    q.complete(running[0]);
    q.setViewport({ gridSize: 4, cells: [[3, 3], [0, 0]] });
    const next = q.next(16).map((j) => j.key);
    expect(next).not.toContain(running[0]);
    expect(next).not.toContain(running[1]);
    expect(next.slice(0, 1)).toEqual(['4:3:3']);
    expect(next).toHaveLength(14);
  });

  it('cancels: pauses, returns the running jobs, which can be released and served again', () => {
    const q = new IconQueue(full(2));
    const running = q.next(3).map((j) => j.key);
    expect(q.cancel()).toEqual(running);
    expect(q.next(4)).toEqual([]);
    q.release(running);
    q.resume();
    expect(q.next(4).map((j) => j.key)).toEqual([...running, '2:1:1']);
  });

  it('reports done, failed and total per grid level', () => {
    const q = new IconQueue([...full(2), { size: 3, cells: [{ i: 1, j: 1 }, { i: 2, j: 0 }] }]);
    const jobs = q.next(6);
    q.complete(jobs[0].key);
    q.complete(iconKey(3, 2, 0));
    q.fail(iconKey(3, 1, 1));
    expect(q.progress()).toEqual([
      { gridSize: 2, done: 1, failed: 0, total: 4 },
      { gridSize: 3, done: 1, failed: 1, total: 2 },
    ]);
    expect(q.finished).toBe(false);
    jobs.slice(1, 4).forEach((j) => q.complete(j.key));
    expect(q.finished).toBe(true);
    expect(() => q.complete('9:9:9')).toThrow(/no icon job/);
  });
});
