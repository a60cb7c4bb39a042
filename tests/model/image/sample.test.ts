import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FASHION_MNIST_CLASS_NAMES, fashionMnistAvailable, loadFashionMnist } from '../../../scripts/fashion-mnist';
import { parseSample } from '../../../src/model/image/sample';
import { SAMPLE_DIR, loadSampleFromDisk } from '../../../src/model/image/sampleNode';

const manifest = JSON.parse(readFileSync(join(SAMPLE_DIR, 'manifest.json'), 'utf8')) as {
  count: number;
  labels: number[];
  testIndex: number[];
  [key: string]: unknown;
};

describe('bundled Fashion-MNIST sample', () => {
  it('parses, with 300 images per class and pixel data of the right length', async () => {
    const sample = await loadSampleFromDisk();
    expect(sample.count).toBe(3000);
    expect([sample.width, sample.height, sample.channels]).toEqual([28, 28, 1]);
    expect(sample.images.length).toBe(sample.count * 28 * 28);
    expect(sample.labelNames).toEqual([...FASHION_MNIST_CLASS_NAMES]);
    const perClass = new Array(10).fill(0);
    for (const label of sample.labels) perClass[label]++;
    expect(perClass).toEqual(new Array(10).fill(300));
    // Shuffled, not grouped by class.
    expect(Array.from(sample.labels.subarray(0, 300)).every((l) => l === sample.labels[0])).toBe(false);
  });

  it('has distinct test-set indices, one per image', () => {
    expect(manifest.testIndex).toHaveLength(manifest.count);
    expect(new Set(manifest.testIndex).size).toBe(manifest.count);
    expect(manifest.testIndex.every((i) => Number.isInteger(i) && i >= 0 && i < 10_000)).toBe(true);
  });

  it('matches the original t10k labels and pixels at testIndex', async (ctx) => {
    if (!fashionMnistAvailable()) {
      ctx.skip('/usr/share/datasets/fashion-mnist is absent (apt-get install dataset-fashion-mnist)');
      return;
    }
    const test = loadFashionMnist('t10k');
    const sample = await loadSampleFromDisk();
    const originalLabels = manifest.testIndex.map((i) => test.labels[i]);
    expect(Array.from(sample.labels)).toEqual(originalLabels);
    for (const i of [0, 1, 1234, 2999]) {
      const src = manifest.testIndex[i] * 784;
      expect(sample.images.subarray(i * 784, (i + 1) * 784)).toEqual(test.images.subarray(src, src + 784));
    }
  });

  it('rejects a bad manifest with a clear error', () => {
    const bytes = new Uint8Array(2 * 28 * 28);
    const good = { count: 2, width: 28, height: 28, channels: 1, labelNames: ['a', 'b'], labels: [0, 1] };
    expect(parseSample(good, bytes).count).toBe(2);
    expect(() => parseSample(null, bytes)).toThrow(/Invalid sample manifest: expected a JSON object/);
    expect(() => parseSample({ ...good, count: -1 }, bytes)).toThrow(/"count" must be a positive integer/);
    expect(() => parseSample({ ...good, channels: 3 }, bytes)).toThrow(/"channels" must be 1/);
    expect(() => parseSample({ ...good, labels: [0] }, bytes)).toThrow(/"labels" has 1 entries but "count" is 2/);
    expect(() => parseSample({ ...good, labels: [0, 7] }, bytes)).toThrow(/labels\[1\] = 7 is not a class index/);
    expect(() => parseSample({ ...good, labelNames: [] }, bytes)).toThrow(/"labelNames" must be a non-empty array/);
    expect(() => parseSample(good, bytes.subarray(1))).toThrow(/pixel file has 1567 bytes, expected 1568/);
    expect(() => parseSample({ ...good, file: 3 }, bytes)).toThrow('Invalid sample manifest: "file" must name the pixel file');
    expect(() => parseSample([good], bytes)).toThrow('Invalid sample manifest: expected a JSON object, got an array');
    const { height: _, ...withoutHeight } = good;
    expect(() => parseSample(withoutHeight, bytes)).toThrow('Invalid sample manifest: "height" is missing');
  });

  it('names the missing file when the sample directory is wrong', async () => {
    await expect(loadSampleFromDisk('/nonexistent/sample')).rejects.toThrow(/Cannot read sample manifest \/nonexistent\/sample\/manifest.json/);
  });
});
