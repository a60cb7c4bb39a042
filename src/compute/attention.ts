import { ATTENTION_KERNELS_WASM } from './wasm/attentionKernels.wasm';
import { instantiateKernels, kernelModule } from './wasmKernels';

interface KernelExports {
  memory: WebAssembly.Memory;
  scores(q: number, k: number, stride: number, tokens: number, dim: number, scale: number, out: number): void;
  softmaxRows(scores: number, tokens: number): void;
  mix(p: number, v: number, stride: number, tokens: number, dim: number, out: number): void;
  mix16(p: number, v: number, stride: number, tokens: number, dim: number, out: number): void;
}

/** The shape of a batch of multi-head activations laid out [batch, tokens, heads, dim] (a projection's own output). */
export interface HeadsShape {
  batch: number;
  tokens: number;
  heads: number;
  dim: number;
}

let instance: KernelExports | null = null;

/** The kernels' instance, its memory grown to at least `bytes`; null where the runtime has no WebAssembly SIMD. */
function kernels(bytes: number): KernelExports | null {
  if (!instance) {
    const module = kernelModule(ATTENTION_KERNELS_WASM);
    if (!module) return null;
    instance = instantiateKernels<KernelExports>(module, bytes);
  } else if (instance.memory.buffer.byteLength < bytes) {
    instance.memory.grow(Math.ceil((bytes - instance.memory.buffer.byteLength) / 65536));
  }
  return instance;
}

/** Whether `causalAttention` runs for heads of `dim` values here (WebAssembly SIMD, dim a multiple of 4). */
export const causalAttentionRuns = (dim: number): boolean => dim % 4 === 0 && kernelModule(ATTENTION_KERNELS_WASM) !== null;

/**
 * Causal multi-head self-attention, softmax(q·kᵀ/sqrt(dim)) v with each query seeing the keys at or before it, over
 * q, k, v laid out [batch, tokens, heads, dim]; the result has the same layout, i.e. the heads already merged. Only
 * the causal half of each score square is computed (TF.js's batched matMul computes and masks all of it, at about
 * 2 GFLOP/s on wasm). The softmax subtracts each row's maximum, as TF.js's does. Throws where `causalAttentionRuns`
 * is false.
 */
export function causalAttention(q: Float32Array, k: Float32Array, v: Float32Array, shape: HeadsShape): Float32Array {
  const { batch, tokens, heads, dim } = shape;
  const size = batch * tokens * heads * dim;
  for (const [name, x] of [['q', q], ['k', k], ['v', v]] as const) {
    if (x.length !== size) throw new Error(`causalAttention: ${name} has ${x.length} values, not ${batch} x ${tokens} x ${heads} x ${dim}.`);
  }
  // The kernels' memory holds one sequence at a time, so it grows with the longest sequence, not with the batch:
  // its q, k, v and out, then one head's score square and 16 bytes the softmax's last partial chunk may read past it.
  const sequence = tokens * heads * dim;
  const exports = causalAttentionRuns(dim) ? kernels(16 * sequence + 4 * tokens * tokens + 16) : null;
  if (!exports) throw new Error(`causalAttention needs WebAssembly SIMD and a head size that is a multiple of 4 (got ${dim}).`);
  const [qAt, kAt, vAt, outAt, scoresAt] = [0, 4 * sequence, 8 * sequence, 12 * sequence, 16 * sequence];
  const memory = new Float32Array(exports.memory.buffer);
  const out = new Float32Array(size);
  const stride = heads * dim;
  const scale = 1 / Math.sqrt(dim);
  const mix = dim % 16 === 0 ? exports.mix16 : exports.mix;
  for (let b = 0; b < batch; b++) {
    const [from, to] = [b * sequence, (b + 1) * sequence];
    memory.set(q.subarray(from, to), qAt / 4);
    memory.set(k.subarray(from, to), kAt / 4);
    memory.set(v.subarray(from, to), vAt / 4);
    for (let h = 0; h < heads; h++) {
      const head = 4 * h * dim;
      exports.scores(qAt + head, kAt + head, stride, tokens, dim, scale, scoresAt);
      exports.softmaxRows(scoresAt, tokens);
      mix(scoresAt, vAt + head, stride, tokens, dim, outAt + head);
    }
    out.set(memory.subarray(outAt / 4, outAt / 4 + sequence), from);
  }
  return out;
}
