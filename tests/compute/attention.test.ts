import { describe, expect, it } from 'vitest';
import { causalAttention, causalAttentionRuns, type HeadsShape } from '../../src/compute/attention';
import { createRng } from '../../src/lib/rng';

/** Causal softmax attention in float64, head by head, over [batch, tokens, heads, dim] rows: the oracle. */
function bruteForce(q: Float32Array, k: Float32Array, v: Float32Array, { batch, tokens, heads, dim }: HeadsShape): Float64Array {
  const out = new Float64Array(q.length);
  const at = (b: number, t: number, h: number) => ((b * tokens + t) * heads + h) * dim;
  for (let b = 0; b < batch; b++) {
    for (let h = 0; h < heads; h++) {
      for (let i = 0; i < tokens; i++) {
        const scores = Array.from({ length: i + 1 }, (_, j) => {
          let dot = 0;
          for (let c = 0; c < dim; c++) dot += q[at(b, i, h) + c] * k[at(b, j, h) + c];
          return dot / Math.sqrt(dim);
        });
        const max = Math.max(...scores);
        const weights = scores.map((s) => Math.exp(s - max));
        const sum = weights.reduce((a, w) => a + w, 0);
        for (let j = 0; j <= i; j++) for (let c = 0; c < dim; c++) out[at(b, i, h) + c] += (weights[j] / sum) * v[at(b, j, h) + c];
      }
    }
  }
  return out;
}

function seeded(n: number, seed: number, scale: number): Float32Array {
  const random = createRng(seed);
  return Float32Array.from({ length: n }, () => scale * (2 * random() - 1));
}

describe('causalAttention (WebAssembly SIMD)', () => {
  it('runs in Node', () => {
    expect(causalAttentionRuns(64)).toBe(true);
    expect(causalAttentionRuns(6)).toBe(false);
  });

  // Odd and even token counts (the kernels take keys two at a time), one token, head sizes of 4 to 64, and
  // scores large enough that the softmax's max subtraction matters.
  const shapes: [HeadsShape, number][] = [
    [{ batch: 1, tokens: 1, heads: 1, dim: 4 }, 1],
    [{ batch: 2, tokens: 7, heads: 3, dim: 12 }, 1],
    [{ batch: 3, tokens: 16, heads: 4, dim: 16 }, 4],
    [{ batch: 1, tokens: 33, heads: 2, dim: 64 }, 2],
  ];
  for (const [shape, scale] of shapes) {
    it(`equals the float64 brute force for ${JSON.stringify(shape)}, inputs within ±${scale}`, () => {
      const size = shape.batch * shape.tokens * shape.heads * shape.dim;
      const [q, k, v] = [1, 2, 3].map((seed) => seeded(size, seed * 7 + shape.tokens, scale));
      const actual = causalAttention(q, k, v, shape);
      const expected = bruteForce(q, k, v, shape);
      let worst = 0;
      let largest = 0;
      for (let i = 0; i < size; i++) {
        worst = Math.max(worst, Math.abs(actual[i] - expected[i]));
        largest = Math.max(largest, Math.abs(expected[i]));
      }
      expect(worst / largest).toBeLessThan(1e-6);
    });
  }

  it('the first token sees only itself: its output is its own value', () => {
    const shape = { batch: 1, tokens: 5, heads: 2, dim: 4 };
    const [q, k, v] = [1, 2, 3].map((seed) => seeded(40, seed, 3));
    expect(Array.from(causalAttention(q, k, v, shape).subarray(0, 8))).toEqual(Array.from(v.subarray(0, 8)));
  });

  it('refuses inputs that do not match the shape, or heads whose size is not a multiple of 4', () => {
    const x = new Float32Array(24);
    expect(() => causalAttention(x, x, new Float32Array(20), { batch: 1, tokens: 2, heads: 3, dim: 4 })).toThrow(/v has 20 values/);
    expect(() => causalAttention(x, x, x, { batch: 1, tokens: 2, heads: 2, dim: 6 })).toThrow(/multiple of 4/);
  });
});
