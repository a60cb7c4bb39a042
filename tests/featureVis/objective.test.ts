import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { ImageModel } from '../../src/model/image/imageModel';
import { chooseBackend } from '../../src/model/backend';
import { directionObjective, layerFunction, layerVectors, objectiveTargets, scoreImages } from '../../src/featureVis/objective';
import { smallCnnArtifacts } from '../model/helpers';

let model: ImageModel;
beforeAll(async () => {
  await chooseBackend({ node: true });
  model = await ImageModel.fromArtifacts(await smallCnnArtifacts(), 'small');
});

/** dot(h, S v) · max(0.1, cos(h, v))^p in plain JS. */
function objectiveJs(h: number[], v: number[], s: number[] | null, p: number): number {
  const d = v.length;
  const sv = s ? v.map((_, i) => v.reduce((acc, vj, j) => acc + s[i * d + j] * vj, 0)) : v;
  const dot = h.reduce((a, hi, i) => a + hi * sv[i], 0);
  const cos = h.reduce((a, hi, i) => a + hi * v[i], 0) / Math.hypot(...h) / Math.hypot(...v);
  return dot * Math.max(0.1, cos) ** p;
}

describe('directionObjective', () => {
  it('is dot(h, S v) · max(0.1, cos(h, v))^p, clamped where h points away', () => {
    const v = [1, 2, 0];
    const s = [2, 0, 0, 0, 1, 0.5, 0, 0.5, 1];
    const hs = [[1, 1, 1], [3, 0, -1], [-1, -2, 0]];
    const targets = objectiveTargets(Float32Array.from([...v, ...v, ...v]), 3, Float32Array.from(s));
    const got = tf.tidy(() =>
      directionObjective(tf.tensor2d(hs), tf.tensor2d(targets.whitened, [3, 3]), tf.tensor2d(targets.unit, [3, 3]), 2).dataSync(),
    );
    hs.forEach((h, i) => expect(got[i]).toBeCloseTo(objectiveJs(h, v, s, 2), 4));
    expect(got[2]).toBeLessThan(0);
  });

  it('has a finite gradient at a dead (all-zero) vector', () => {
    const g = tf.tidy(() =>
      tf.grad((h: tf.Tensor) => tf.sum(directionObjective(h as tf.Tensor2D, tf.ones([1, 4]) as tf.Tensor2D, tf.ones([1, 4]).div(2) as tf.Tensor2D, 2)))(tf.zeros([1, 4])).dataSync(),
    );
    expect(Array.from(g).every(Number.isFinite)).toBe(true);
  });
});

describe('layerVectors', () => {
  it('reads the centre, the spatial mean, or one position per image (-1 = pooled)', () => {
    const act = tf.tensor4d(Array.from({ length: 2 * 3 * 4 * 2 }, (_, i) => i), [2, 3, 4, 2]);
    const at = (b: number, y: number, x: number) => [0, 1].map((c) => ((b * 3 + y) * 4 + x) * 2 + c);
    const centre = tf.tidy(() => layerVectors(act, 'centre').arraySync());
    expect(centre).toEqual([at(0, 1, 2), at(1, 1, 2)]);
    const pooled = tf.tidy(() => layerVectors(act, 'pooled').arraySync());
    expect(pooled[1][0]).toBeCloseTo(at(1, 0, 0)[0] + 11, 5);
    const picked = tf.tidy(() => layerVectors(act, { x: [3, -1], y: [2, -1] }).arraySync());
    expect(picked[0]).toEqual(at(0, 2, 3));
    expect(picked[1]).toEqual(pooled[1]);
    act.dispose();
  });
});

describe('scoreImages', () => {
  it('scores each image on its own direction, matching a direct computation, without leaking', async () => {
    const images = new Float32Array(2 * 12 * 12 * 3).map((_, i) => (Math.sin(i * 0.37) + 1) / 2);
    const dirs = Float32Array.from({ length: 16 }, (_, i) => (i % 3) / 2);
    const before = tf.memory().numTensors;
    const scores = await scoreImages(model, 'conv_b', images, dirs, { site: { x: [1, 3], y: [2, 0] }, cossimPower: 1 });
    expect(tf.memory().numTensors).toBe(before);
    const acts = tf.tidy(() => layerFunction(model, 'conv_b')(tf.tensor4d(images, [2, 12, 12, 3])).arraySync() as number[][][][]);
    expect(scores[0]).toBeCloseTo(objectiveJs(acts[0][2][1], Array.from(dirs.subarray(0, 8)), null, 1), 4);
    expect(scores[1]).toBeCloseTo(objectiveJs(acts[1][0][3], Array.from(dirs.subarray(8)), null, 1), 4);
    await expect(scoreImages(model, 'conv_b', images.subarray(1), dirs)).rejects.toThrow(/do not make whole/);
  });
});
