import { describe, expect, it } from 'vitest';
import { recordingRateLine } from '../../src/panels/recordingRate';

const stats = { count: 1234, unit: 'tokens' as const, seconds: 2.09, digest: '', head: [] };

describe('recordingRateLine', () => {
  it('says what was recorded, how fast, and on which backend and threads', () => {
    expect(recordingRateLine(stats, { name: 'wasm', reason: '', threads: 2 })).toBe('Recorded 1,234 tokens in 2.1 s (590 tokens/s), wasm, 2 threads');
    expect(recordingRateLine({ ...stats, seconds: 0.5 }, { name: 'wasm', reason: '', threads: 1 })).toBe('Recorded 1,234 tokens in 0.50 s (2,468 tokens/s), wasm, 1 thread');
  });

  it('names no threads off wasm, and no rate for a recording too quick to time', () => {
    expect(recordingRateLine({ ...stats, unit: 'images', count: 300 }, { name: 'webgl', reason: '', threads: 1 })).toBe('Recorded 300 images in 2.1 s (144 images/s), webgl');
    expect(recordingRateLine({ ...stats, seconds: 0 }, null)).toBe('Recorded 1,234 tokens in 0.00 s');
  });
});
