import { describe, expect, it } from 'vitest';
import type { RawImage } from '../../../src/model/image/preprocess';
import { readAhead } from '../../../src/model/image/readAhead';
import type { ImageProvider } from '../../../src/model/image/recordImages';

/** A provider that counts its loads in flight; input 3 cannot be read. */
function counted(count: number) {
  const state = { inFlight: 0, most: 0, loads: [] as number[] };
  const provider: ImageProvider = {
    count,
    name: (i) => `f${i}.png`,
    label: () => null,
    async load(i) {
      state.loads.push(i);
      state.most = Math.max(state.most, ++state.inFlight);
      await new Promise((r) => setTimeout(r, 1));
      state.inFlight--;
      if (i === 3) throw new Error('could not be read (NotReadableError: gone)');
      return { width: 1, height: 1, channels: 1, data: Uint8Array.of(i) } satisfies RawImage;
    },
  };
  return { provider, state };
}

describe('readAhead', () => {
  it('hands out every input in order, reading a bounded few ahead, and a failed read fails only its input', async () => {
    const { provider, state } = counted(100);
    const images = readAhead(provider, 8);
    const got: (number | string)[] = [];
    for (let i = 0; i < images.count; i++) {
      got.push(await images.load(i).then((im) => im.data[0], (e: Error) => e.message));
      await new Promise((r) => setTimeout(r, 2));
    }
    expect(got[3]).toMatch(/NotReadableError/);
    expect(got.filter((g) => typeof g === 'number')).toHaveLength(99);
    expect(state.loads.sort((a, b) => a - b)).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(state.most).toBeGreaterThan(1);
    expect(state.most).toBeLessThanOrEqual(8);
    expect(images.name(5)).toBe('f5.png');
  });

  it('loads just what is asked for out of order', async () => {
    const { provider, state } = counted(100);
    const images = readAhead(provider, 8);
    await images.load(40);
    await images.load(7);
    expect(state.loads).toEqual([40, 7]);
  });
});
