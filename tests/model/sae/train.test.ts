import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isAbortError } from '../../../src/lib/abort';
import { chooseBackend } from '../../../src/model/backend';
import { decodeSae, encodeSae, measureSae } from '../../../src/model/sae/encode';
import { denseLatents, latentColumn, SaeInputError, type Sae } from '../../../src/model/sae/sae';
import { resolveSaeSettings, trainSae, type SaeTrainProgress } from '../../../src/model/sae/train';
import { bestCosines, median, plantedRows } from './planted';

beforeAll(async () => {
  await chooseBackend({ node: true });
});
afterAll(async () => {
  await tf.setBackend('wasm');
});

const rowNorms = (w: Float32Array, width: number) =>
  Array.from({ length: w.length / width }, (_, i) => Math.sqrt(w.subarray(i * width, (i + 1) * width).reduce((s, x) => s + x * x, 0)));

describe('trainSae on planted directions', () => {
  it('recovers at least 90% of 512 directions in superposition in 64 dimensions at cosine >= 0.9; the neurons recover none', async () => {
    const planted = plantedRows({ directions: 512, width: 64, active: 3, rows: 16_384, seed: 7 });
    const started = performance.now();
    // 1,024 latents, twice the planted directions: with exactly 512 some latents settle between two directions
    // or die (81% recovered in 8 epochs).
    const { sae, epochs } = await trainSae(planted.rows, 64, { latents: 1024, k: 3, epochs: 10, batchSize: 256, seed: 1 });
    const seconds = (performance.now() - started) / 1000;
    const sae_ = bestCosines(planted.directions, sae.weights.W_dec, 64);
    const neurons = bestCosines(planted.directions, identity(64), 64, true);
    const recovered = fractionAtLeast(sae_, 0.9);
    console.log(
      `planted: SAE recovers ${(100 * recovered).toFixed(1)}% of 512 directions at cosine >= 0.9 (median best cosine ${median(sae_).toFixed(3)}); ` +
        `neurons ${(100 * fractionAtLeast(neurons, 0.9)).toFixed(1)}% (median best |cosine| ${median(neurons).toFixed(3)}); ` +
        `last epoch FVE ${epochs.at(-1)!.fve.toFixed(3)}, L0 ${epochs.at(-1)!.l0.toFixed(2)}, dead ${epochs.at(-1)!.deadLatents}; ` +
        `${planted.count} rows x ${epochs.length} epochs in ${seconds.toFixed(1)} s on ${tf.getBackend()}`,
    );
    expect(recovered).toBeGreaterThanOrEqual(0.9);
    expect(fractionAtLeast(neurons, 0.9)).toBe(0);
    for (const norm of rowNorms(sae.weights.W_dec, 64)) expect(norm).toBeCloseTo(1, 5);
  });
});

function identity(n: number): Float32Array {
  return Float32Array.from({ length: n * n }, (_, i) => (i % (n + 1) === 0 ? 1 : 0));
}

const fractionAtLeast = (values: Float64Array, threshold: number) => values.filter((v) => v >= threshold).length / values.length;

/** Small planted data for the quick tests. */
const small = plantedRows({ directions: 48, width: 16, active: 2, rows: 1024, seed: 3 });

describe('trainSae', () => {
  it('gives the same dictionary for the same seed and data, bit for bit, and another for another seed', async () => {
    const options = { latents: 64, k: 4, epochs: 2, batchSize: 128 };
    const [a, b, c] = [await trainSae(small.rows, 16, { ...options, seed: 5 }), await trainSae(small.rows, 16, { ...options, seed: 5 }), await trainSae(small.rows, 16, { ...options, seed: 6 })];
    expect(a.sae).toEqual(b.sae);
    expect(a.epochs).toEqual(b.epochs);
    expect(c.sae.weights.W_dec).not.toEqual(a.sae.weights.W_dec);
  });

  it('reports progress as it trains: rows, FVE, L0 and dead latents; FVE improves epoch by epoch', async () => {
    const events: SaeTrainProgress[] = [];
    const { epochs, settings } = await trainSae(small.rows, 16, { latents: 64, k: 4, epochs: 4, batchSize: 64, reportEveryRows: 256, onProgress: (e) => events.push(e) });
    expect(events.length).toBe(16);
    expect(events.map((e) => e.rowsSeen)).toEqual(Array.from({ length: 16 }, (_, i) => 256 * (i + 1)));
    expect(events.at(-1)).toMatchObject({ epoch: 3, step: 64, rowsSeen: 4096, totalRows: 4096 });
    for (const e of events) {
      expect(e.rows).toBe(256);
      expect(e.l0).toBeGreaterThan(0);
      expect(e.l0).toBeLessThanOrEqual(settings.k);
      expect(e.fve).toBeLessThanOrEqual(1);
      expect(e.mse).toBeGreaterThanOrEqual(0);
      expect(e.deadLatents).toBeGreaterThanOrEqual(0);
    }
    expect(epochs.map((e) => e.rows)).toEqual([1024, 1024, 1024, 1024]);
    expect(epochs[3].fve).toBeGreaterThan(epochs[0].fve);
    expect(epochs[3].fve).toBeGreaterThan(0.7);
  });

  it('trains a ReLU SAE with the decoder-norm L1 penalty; its saved decoder rows are unit directions', async () => {
    const { sae, epochs } = await trainSae(small.rows, 16, { architecture: 'relu', latents: 64, epochs: 30, batchSize: 64, l1Coefficient: 2, seed: 2 });
    expect(sae.config).toMatchObject({ architecture: 'relu', k: null, dIn: 16, dSae: 64 });
    for (const norm of rowNorms(sae.weights.W_dec, 16)) expect(norm).toBeCloseTo(1, 5);
    const measured = await measureSae(sae, small.rows);
    const recovered = fractionAtLeast(bestCosines(small.directions, sae.weights.W_dec, 16), 0.9);
    console.log(
      `relu on small planted data (48 directions in 16 dimensions, 2 active): ${(100 * recovered).toFixed(0)}% recovered at cosine >= 0.9, ` +
        `FVE ${measured.fve.toFixed(3)}, L0 ${measured.l0.toFixed(2)} (training's last epoch ${epochs.at(-1)!.fve.toFixed(3)}, ${epochs.at(-1)!.l0.toFixed(2)})`,
    );
    // ReLU needs many more steps than TopK (480 here): the penalty pushes the encoder's biases down slowly.
    expect(recovered).toBeGreaterThan(0.8);
    expect(measured.fve).toBeGreaterThan(0.7);
    expect(measured.l0).toBeLessThan(8);
  });

  it('works on the cpu backend too', async () => {
    await tf.setBackend('cpu');
    try {
      const { sae, epochs } = await trainSae(small.rows, 16, { latents: 64, k: 4, epochs: 2, batchSize: 128 });
      expect(epochs[1].fve).toBeGreaterThan(0.5);
      expect(sae.weights.W_enc.every(Number.isFinite)).toBe(true);
    } finally {
      await tf.setBackend('wasm');
    }
  });

  it('frees every tensor it makes, on the wasm and the cpu backend', async () => {
    for (const backend of ['wasm', 'cpu']) {
      await tf.setBackend(backend);
      const before = tf.memory().numTensors;
      await trainSae(small.rows, 16, { latents: 64, k: 4, epochs: 1, batchSize: 100, auxK: 8, deadWindowRows: 100 });
      await trainSae(small.rows, 16, { architecture: 'relu', latents: 32, epochs: 1, batchSize: 100 });
      expect(tf.memory().numTensors).toBe(before);
    }
    await tf.setBackend('wasm');
  });

  it("hands the SAE as it stands to onEpoch at each epoch's end, the last being the one returned; a cancel there stops the run", async () => {
    const options = { latents: 64, k: 4, epochs: 3, batchSize: 128, seed: 3 };
    const seen: { epoch: number; sae: Sae }[] = [];
    const before = tf.memory().numTensors;
    const { sae, epochs } = await trainSae(small.rows, 16, { ...options, onEpoch: async (epoch, s) => void seen.push({ epoch, sae: s }) });
    expect(tf.memory().numTensors).toBe(before);
    expect(seen.map((e) => e.epoch)).toEqual([0, 1, 2]);
    expect(seen[2].sae).toEqual(sae);
    expect(seen[0].sae.weights.W_dec).not.toEqual(sae.weights.W_dec);
    // Measuring does not change the run: the same SAE and figures as without it.
    const plain = await trainSae(small.rows, 16, options);
    expect(plain.sae).toEqual(sae);
    expect(plain.epochs).toEqual(epochs);
    // Each is in the input's units, as the returned SAE is: it reconstructs the rows, less well after one epoch than at the end.
    const [first, last] = [await measureSae(seen[0].sae, small.rows), await measureSae(sae, small.rows)];
    expect(first.fve).toBeGreaterThan(0.3);
    expect(last.fve).toBeGreaterThan(first.fve);

    const controller = new AbortController();
    const cancelled = trainSae(small.rows, 16, { ...options, signal: controller.signal, onEpoch: async () => controller.abort() });
    expect(isAbortError(await cancelled.catch((e: unknown) => e))).toBe(true);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('stops with an AbortError when cancelled, tensors freed', async () => {
    const before = tf.memory().numTensors;
    const controller = new AbortController();
    let events = 0;
    const run = trainSae(small.rows, 16, {
      latents: 64,
      k: 4,
      epochs: 50,
      batchSize: 64,
      reportEveryRows: 64,
      signal: controller.signal,
      onProgress: () => {
        if (++events === 3) controller.abort();
      },
    });
    const error = await run.catch((e: unknown) => e);
    expect(isAbortError(error)).toBe(true);
    expect(events).toBeLessThan(50);
    expect(tf.memory().numTensors).toBe(before);
    await expect(trainSae(small.rows, 16, { signal: AbortSignal.abort() })).rejects.toMatchObject({ name: 'AbortError' });
  });

  it('runs AuxK while latents are dead, and not when it is off', async () => {
    // More latents than planted directions and a short dead window: latents die.
    const options = { latents: 256, k: 2, epochs: 3, batchSize: 64, deadWindowRows: 256, seed: 4 };
    const withAux = await trainSae(small.rows, 16, options);
    const without = await trainSae(small.rows, 16, { ...options, auxCoefficient: 0 });
    expect(withAux.epochs.some((e) => e.deadLatents > 0 && e.auxLoss > 0)).toBe(true);
    expect(without.epochs.some((e) => e.deadLatents > 0)).toBe(true);
    expect(without.epochs.every((e) => e.auxLoss === 0)).toBe(true);
    expect(withAux.sae.weights.W_dec).not.toEqual(without.sae.weights.W_dec);
  });

  it('refuses bad input and settings with a clear message', async () => {
    await expect(trainSae(new Float32Array(10), 3)).rejects.toThrow('10 activation values are not a whole number of rows of width 3.');
    await expect(trainSae(Float32Array.from([1, NaN, 2, 3]), 2)).rejects.toThrow('Activation row 0 holds a non-finite value (NaN) at dimension 1.');
    await expect(trainSae(small.rows, 16, { latents: 8, k: 9 })).rejects.toThrow('SAE setting k (9) exceeds the number of latents (8).');
    await expect(trainSae(small.rows, 16, { batchSize: 0 })).rejects.toThrow(SaeInputError);
    expect(() => resolveSaeSettings(16, 100, { learningRate: -1 })).toThrow('SAE setting learningRate must be a positive number, not -1.');
  });

  it('defaults: 8x latents, k 32, the dead window in mean firing intervals capped at an epoch', () => {
    expect(resolveSaeSettings(64, 1_000_000)).toMatchObject({ architecture: 'topk', latents: 512, k: 32, auxK: 32, auxCoefficient: 1 / 32, deadWindowRows: 1024 });
    expect(resolveSaeSettings(64, 500).deadWindowRows).toBe(500);
    expect(resolveSaeSettings(64, 500, { architecture: 'relu' }).deadWindowRows).toBe(500);
  });
});

describe('encodeSae and decodeSae', () => {
  let sae: Sae;
  beforeAll(async () => {
    ({ sae } = await trainSae(small.rows, 16, { latents: 64, k: 4, epochs: 2, batchSize: 128, seed: 9 }));
  });

  it('gives k latents per row at most, largest first, and reconstructions that measureSae agrees with', async () => {
    const latents = await encodeSae(sae, small.rows, { batchSize: 100 });
    expect(latents.count).toBe(1024);
    for (let r = 0; r < latents.count; r++) {
      const values = latents.value.subarray(latents.rowStart[r], latents.rowStart[r + 1]);
      expect(values.length).toBeLessThanOrEqual(4);
      expect(Array.from(values)).toEqual(Array.from(values).sort((a, b) => b - a));
    }
    const dense = denseLatents(latents);
    expect(Array.from(latentColumn(latents, 5))).toEqual(Array.from({ length: 1024 }, (_, r) => dense[r * 64 + 5]));
    const reconstructed = decodeSae(sae, latents);
    const mean = new Float64Array(16);
    small.rows.forEach((v, i) => (mean[i % 16] += v / 1024));
    let [error, variance] = [0, 0];
    small.rows.forEach((v, i) => {
      error += (v - reconstructed[i]) ** 2;
      variance += (v - mean[i % 16]) ** 2;
    });
    const measured = await measureSae(sae, small.rows);
    expect(measured.fve).toBeCloseTo(1 - error / variance, 6);
    expect(measured.l0).toBeCloseTo(latents.latent.length / 1024, 10);
    expect(measured.frequency.reduce((s, f) => s + f, 0)).toBeCloseTo(measured.l0, 10);
  });

  it('frees every tensor, and stops when cancelled', async () => {
    const before = tf.memory().numTensors;
    await encodeSae(sae, small.rows, { batchSize: 100 });
    await measureSae({ ...sae, config: { ...sae.config, architecture: 'relu', k: null } }, small.rows);
    await expect(encodeSae(sae, small.rows, { signal: AbortSignal.abort() })).rejects.toMatchObject({ name: 'AbortError' });
    await expect(encodeSae(sae, Float32Array.from(small.rows).fill(Infinity, 20, 21))).rejects.toThrow('Activation row 1 holds a non-finite value (Infinity) at dimension 4.');
    expect(tf.memory().numTensors).toBe(before);
  });
});
