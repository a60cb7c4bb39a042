import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { chooseBackend } from '../../src/model/backend';
import { readTidy, readTidyAll } from '../../src/model/readTensors';

beforeAll(async () => {
  await chooseBackend({ node: true });
});

describe('reading tensors out of a tidy', () => {
  it('gives the values, in order, and frees every tensor made, the ones read included', () => {
    const before = tf.memory().numTensors;
    const one = readTidy(() => tf.range(0, 6).reshape([2, 3]).mul(2));
    expect(Array.from(one)).toEqual([0, 2, 4, 6, 8, 10]);
    const [a, b] = readTidyAll(() => {
      const x = tf.tensor1d([1, 2, 3]);
      return [x.square(), x.sum()];
    });
    expect(Array.from(a)).toEqual([1, 4, 9]);
    expect(Array.from(b)).toEqual([6]);
    expect(tf.memory().numTensors).toBe(before);
    expect(() => readTidy(() => tf.tensor1d([1]).reshape([3]))).toThrow();
    expect(tf.memory().numTensors).toBe(before);
  });
});
