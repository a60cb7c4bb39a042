import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRng, gaussian } from '../../../src/lib/rng';
import { chooseBackend } from '../../../src/model/backend';
import { SAE_TENSORS } from '../../../src/model/sae/sae';
import { saeGradients, type SaeLossContext, type SaeParams } from '../../../src/model/sae/train';

beforeAll(async () => {
  await chooseBackend({ node: true });
});
afterAll(async () => {
  await tf.setBackend('wasm');
});

const [ROWS, D_IN, D_SAE] = [12, 6, 20];

function randomParams(seed: number, decoderNorm: () => number): SaeParams {
  const random = createRng(seed);
  const draw = (n: number, std: number) => Float32Array.from({ length: n }, () => std * gaussian(random));
  const wDec = draw(D_SAE * D_IN, 1);
  for (let i = 0; i < D_SAE; i++) {
    const row = wDec.subarray(i * D_IN, (i + 1) * D_IN);
    const scale = decoderNorm() / Math.sqrt(row.reduce((s, x) => s + x * x, 0));
    row.forEach((x, j) => (row[j] = x * scale));
  }
  return {
    W_enc: tf.tensor2d(draw(D_IN * D_SAE, 0.6), [D_IN, D_SAE]),
    W_dec: tf.tensor2d(wDec, [D_SAE, D_IN]),
    b_enc: tf.tensor1d(draw(D_SAE, 0.3)),
    b_dec: tf.tensor1d(draw(D_IN, 0.3)),
  };
}

/**
 * The same loss written forward only, differentiated by TF.js's autograd on the cpu backend, with the gates the
 * hand-written pass chose held fixed (they are piecewise constant) and the AuxK residual a constant, as in training.
 */
function autogradGradients(p: SaeParams, x: tf.Tensor2D, c: SaeLossContext, gate: tf.Tensor, auxGate: tf.Tensor | null): SaeParams {
  const forward = (wEnc: tf.Tensor, wDec: tf.Tensor, bEnc: tf.Tensor, bDec: tf.Tensor) => {
    const pre = tf.add(tf.matMul(tf.sub(x, bDec), wEnc), bEnc);
    const f = tf.mul(pre, gate);
    const err = tf.sub(tf.add(tf.matMul(f, wDec), bDec), x);
    return { pre, f, err };
  };
  const residual = forward(p.W_enc, p.W_dec, p.b_enc, p.b_dec).err;
  const loss = (wEnc: tf.Tensor, wDec: tf.Tensor, bEnc: tf.Tensor, bDec: tf.Tensor) => {
    const { pre, f, err } = forward(wEnc, wDec, bEnc, bDec);
    let total = tf.div(tf.sum(tf.square(err)), ROWS);
    if (c.architecture === 'relu') total = tf.add(total, tf.mul(tf.sum(tf.mul(f, tf.norm(wDec, 'euclidean', 1))), c.l1 / ROWS));
    if (auxGate) total = tf.add(total, tf.mul(tf.sum(tf.square(tf.add(tf.matMul(tf.mul(pre, auxGate), wDec), residual))), c.auxScale / ROWS));
    return total as tf.Scalar;
  };
  const [wEnc, wDec, bEnc, bDec] = tf.grads(loss)([p.W_enc, p.W_dec, p.b_enc, p.b_dec]);
  const projected = c.architecture === 'topk' ? tf.sub(wDec, tf.mul(tf.sum(tf.mul(wDec, p.W_dec), 1, true), p.W_dec)) : wDec;
  return { W_enc: wEnc, W_dec: projected, b_enc: bEnc, b_dec: bDec };
}

function maxRelativeError(a: tf.Tensor, b: tf.Tensor): number {
  const [x, y] = [a.dataSync(), b.dataSync()];
  let [error, scale] = [0, 0];
  for (let i = 0; i < y.length; i++) {
    error = Math.max(error, Math.abs(x[i] - y[i]));
    scale = Math.max(scale, Math.abs(y[i]));
  }
  return error / scale;
}

describe('saeGradients: the hand-written backward pass against TF.js autograd', () => {
  const cases: { label: string; context: (dead: tf.Tensor1D) => SaeLossContext; decoderNorm: (random: () => number) => () => number }[] = [
    { label: 'topk', context: () => ({ architecture: 'topk', k: 4, l1: 0, dead: null, auxK: 1, auxScale: 0 }), decoderNorm: () => () => 1 },
    { label: 'topk with AuxK', context: (dead) => ({ architecture: 'topk', k: 4, l1: 0, dead, auxK: 3, auxScale: 0.4 }), decoderNorm: () => () => 1 },
    { label: 'relu with the decoder-norm L1 penalty', context: () => ({ architecture: 'relu', k: 0, l1: 0.7, dead: null, auxK: 1, auxScale: 0 }), decoderNorm: (random) => () => 0.3 + random() },
  ];
  for (const c of cases) {
    it(`${c.label}: every gradient within 1e-5 of autograd's (float32 on cpu)`, async () => {
      await tf.setBackend('cpu');
      tf.tidy(() => {
        const random = createRng(8);
        const params = randomParams(2, c.decoderNorm(random));
        const x = tf.tensor2d(Float32Array.from({ length: ROWS * D_IN }, () => gaussian(random)), [ROWS, D_IN]);
        const dead = tf.tensor1d(Float32Array.from({ length: D_SAE }, (_, i) => (i % 3 === 0 ? 1 : 0)));
        const context = c.context(dead);
        const mine = saeGradients(params, x, context);
        if (context.dead) {
          // AuxK picks at most auxK latents per row, all dead, all with positive pre-activations.
          expect(mine.auxGate!.sum().arraySync()).toBeGreaterThan(ROWS);
          for (const n of mine.auxGate!.sum(1).arraySync() as number[]) expect(n).toBeLessThanOrEqual(context.auxK);
          expect(mine.auxGate!.mul(tf.sub(1, dead)).sum().arraySync()).toBe(0);
        }
        const reference = autogradGradients(params, x, context, mine.gate, mine.auxGate);
        for (const name of SAE_TENSORS) expect(maxRelativeError(mine.grads[name], reference[name]), name).toBeLessThan(1e-5);
        const active = mine.gate.sum(1).arraySync() as number[];
        for (const n of active) expect(n).toBeLessThanOrEqual(context.architecture === 'topk' ? 4 : D_SAE);
        expect(Math.min(...active)).toBeGreaterThan(0);
      });
      await tf.setBackend('wasm');
    });
  }
});
