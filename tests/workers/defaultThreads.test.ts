import { describe, expect, it } from 'vitest';
import { defaultThreads } from '../../src/workers/modelService';

describe('defaultThreads', () => {
  it('uses no threads below 4 logical cores, then all cores but one, at most 8', () => {
    expect([1, 2, 3, 4, 6, 16].map(defaultThreads)).toEqual([null, null, null, 3, 5, 8]);
  });
});
