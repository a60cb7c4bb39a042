import * as tf from '@tensorflow/tfjs';

/**
 * Gradient kernels for tfjs-backend-wasm 4.22. It lacks Conv2DBackpropFilter (which the gradient of every fused
 * linear convolution runs, e.g. a convolution before batch norm), DepthwiseConv2dNativeBackpropFilter and
 * DepthwiseConv2dNativeBackpropInput; its MaxPoolGrad sends the gradient of a window whose maximum is not positive
 * to the wrong pixel (or drops it); its Conv2DBackpropInput and Tile are slow loops. The convolutions here call
 * wasm's own kernels (XNNPACK), so the arithmetic stays in wasm; the rest are TypedArray loops and copies.
 */

type Shape4 = [number, number, number, number];

/** The part of tfjs-backend-wasm's BackendWasm these kernels use. */
interface WasmBackendLike {
  readSync(dataId: tf.DataId): tf.backend_util.BackendValues;
  makeOutput(shape: number[], dtype: tf.DataType, memoryOffset?: number, values?: tf.backend_util.BackendValues): tf.TensorInfo;
  disposeData(dataId: tf.DataId, force?: boolean): boolean;
}

type Conv2DInfo = ReturnType<typeof tf.backend_util.computeConv2DInfo>;

/**
 * The input of the forward convolution that computes dx: dy itself with explicit padding (stride 1), or dy
 * spread out by the stride into a zero-padded buffer. Null where the padding is wider than the filter.
 */
function transposedConvInput(wasm: WasmBackendLike, dy: tf.TensorInfo, info: Conv2DInfo): { x: tf.TensorInfo; owned: boolean; pad: 'valid' | number[][] } | null {
  const { batchSize, inHeight, inWidth, outHeight, outWidth, outChannels, filterHeight: fh, filterWidth: fw, strideHeight: sh, strideWidth: sw } = info;
  const top = fh - 1 - info.padInfo.top;
  const left = fw - 1 - info.padInfo.left;
  if (top < 0 || left < 0) return null;
  if (sh === 1 && sw === 1) {
    const bottom = inHeight + fh - 1 - outHeight - top;
    const right = inWidth + fw - 1 - outWidth - left;
    if (bottom >= 0 && right >= 0) return { x: dy, owned: false, pad: [[0, 0], [top, bottom], [left, right], [0, 0]] };
  }
  const rows = inHeight + fh - 1;
  const cols = inWidth + fw - 1;
  const dys = wasm.readSync(dy.dataId) as Float32Array;
  const spread = new Float32Array(batchSize * rows * cols * outChannels);
  for (let b = 0; b < batchSize; b++) {
    for (let oy = 0; oy < outHeight; oy++) {
      const r = oy * sh + top;
      if (r >= rows) break;
      for (let ox = 0; ox < outWidth; ox++) {
        const c = ox * sw + left;
        if (c >= cols) break;
        const from = ((b * outHeight + oy) * outWidth + ox) * outChannels;
        spread.set(dys.subarray(from, from + outChannels), ((b * rows + r) * cols + c) * outChannels);
      }
    }
  }
  return { x: wasm.makeOutput([batchSize, rows, cols, outChannels], 'float32', undefined, spread), owned: true, pad: 'valid' };
}

/** Runs a registered wasm forward kernel at stride 1 and frees the temporary inputs. */
function forwardOnWasm(kernel: string, backend: unknown, x: { x: tf.TensorInfo; owned: boolean; pad: 'valid' | number[][] }, filter: tf.TensorInfo): tf.TensorInfo {
  const wasm = backend as WasmBackendLike;
  try {
    return tf.getKernel(kernel, 'wasm')!.kernelFunc({
      inputs: { x: x.x, filter },
      backend: backend as tf.KernelBackend,
      attrs: { strides: [1, 1], pad: x.pad, dilations: [1, 1], dataFormat: 'NHWC' } as unknown as tf.NamedAttrMap,
    }) as tf.TensorInfo;
  } finally {
    if (x.owned) wasm.disposeData(x.x.dataId);
    wasm.disposeData(filter.dataId);
  }
}

type KernelArgs = { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap };

/**
 * dx of a depthwise convolution as a forward depthwise convolution (which wasm has) of dy, spread by the
 * stride and padded, with the filter turned 180 degrees: the layout work is JS, the arithmetic is wasm's.
 */
function depthwiseBackpropInput({ inputs, backend, attrs }: KernelArgs): tf.TensorInfo {
  const wasm = backend as WasmBackendLike;
  const a = attrs as unknown as tf.DepthwiseConv2dNativeBackpropInputAttrs;
  const dy = inputs.dy!;
  const filter = inputs.filter!;
  const info = tf.backend_util.computeConv2DInfo(a.inputShape, filter.shape as Shape4, a.strides, a.dilations, a.pad, a.dimRoundingMode, true);
  const { batchSize, inHeight, inWidth, inChannels, outChannels, filterHeight: fh, filterWidth: fw } = info;
  const input = info.dilationHeight === 1 && info.dilationWidth === 1 ? transposedConvInput(wasm, dy, info) : null;
  if (!input) throw new Error('DepthwiseConv2dNativeBackpropInput (supplied wasm kernel) supports dilation 1 and padding narrower than the filter only');
  const multiplier = outChannels / inChannels;
  const fs = wasm.readSync(filter.dataId) as Float32Array;
  const turned = new Float32Array(fh * fw * outChannels);
  for (let p = 0; p < fh; p++) {
    for (let q = 0; q < fw; q++) {
      const src = ((fh - 1 - p) * fw + (fw - 1 - q)) * outChannels;
      turned.set(fs.subarray(src, src + outChannels), (p * fw + q) * outChannels);
    }
  }
  const out = forwardOnWasm('DepthwiseConv2dNative', backend, input, wasm.makeOutput([fh, fw, outChannels, 1], 'float32', undefined, turned));
  if (multiplier === 1) return out;
  // Channel c*m+k of the result belongs to input channel c: sum each group of m.
  const values = wasm.readSync(out.dataId) as Float32Array;
  wasm.disposeData(out.dataId);
  const dx = new Float32Array(batchSize * inHeight * inWidth * inChannels);
  for (let p = 0; p < dx.length / inChannels; p++) {
    for (let c = 0; c < inChannels; c++) {
      let s = 0;
      for (let k = 0; k < multiplier; k++) s += values[p * outChannels + c * multiplier + k];
      dx[p * inChannels + c] = s;
    }
  }
  return wasm.makeOutput(a.inputShape, 'float32', undefined, dx);
}

/**
 * dx of a convolution through wasm's XNNPACK forward Conv2D (turned filter, in and out channels swapped)
 * instead of wasm's own Conv2DBackpropInput, a plain loop about 10x slower; other cases go to the original.
 */
function fastConv2DBackpropInput(original: tf.KernelFunc) {
  return (args: KernelArgs): tf.TensorInfo => {
    const wasm = args.backend as WasmBackendLike;
    const a = args.attrs as unknown as tf.Conv2DBackpropInputAttrs;
    const dy = args.inputs.dy!;
    const filter = args.inputs.filter!;
    if (a.dataFormat !== 'NHWC' || dy.dtype !== 'float32') return original(args as Parameters<tf.KernelFunc>[0]) as tf.TensorInfo;
    const info = tf.backend_util.computeConv2DInfo(a.inputShape, filter.shape as Shape4, a.strides, 1, a.pad, a.dimRoundingMode);
    const input = transposedConvInput(wasm, dy, info);
    if (!input) return original(args as Parameters<tf.KernelFunc>[0]) as tf.TensorInfo;
    const { inChannels: ci, outChannels: co, filterHeight: fh, filterWidth: fw } = info;
    const fs = wasm.readSync(filter.dataId) as Float32Array;
    const turned = new Float32Array(fs.length);
    for (let p = 0; p < fh; p++) {
      for (let q = 0; q < fw; q++) {
        const src = ((fh - 1 - p) * fw + (fw - 1 - q)) * ci * co;
        const dst = (p * fw + q) * co * ci;
        for (let i = 0; i < ci; i++) for (let o = 0; o < co; o++) turned[dst + o * ci + i] = fs[src + i * co + o];
      }
    }
    return forwardOnWasm('Conv2D', args.backend, input, wasm.makeOutput([fh, fw, co, ci], 'float32', undefined, turned));
  };
}

/** Floats of one im2col block in conv2DBackpropFilter: 16 MB, whatever the batch and image size. */
const IM2COL_BLOCK = 1 << 22;

/**
 * dW of a convolution as one matrix product per block of output positions on wasm's BatchMatMul (XNNPACK):
 * dW[K, co] += cols[K, rows] @ dy[rows, co], where column r of cols holds the fh x fw x ci input patch that
 * output position r saw (zero where it lies in the padding). Blocks keep cols to IM2COL_BLOCK floats.
 */
function conv2DBackpropFilter({ inputs, backend, attrs }: KernelArgs): tf.TensorInfo {
  const wasm = backend as WasmBackendLike;
  const a = attrs as unknown as tf.Conv2DBackpropFilterAttrs;
  const x = inputs.x!;
  const dy = inputs.dy!;
  if (a.dataFormat === 'NCHW') throw new Error('Conv2DBackpropFilter (supplied wasm kernel) supports NHWC only');
  const info = tf.backend_util.computeConv2DInfo(x.shape as Shape4, a.filterShape, a.strides, 1, a.pad, a.dimRoundingMode);
  const { batchSize, inHeight, inWidth, inChannels: ci, outHeight, outWidth, outChannels: co, filterHeight: fh, filterWidth: fw, strideHeight: sh, strideWidth: sw } = info;
  const top = info.padInfo.top;
  const left = info.padInfo.left;
  const k = fh * fw * ci;
  const positions = batchSize * outHeight * outWidth;
  const xs = wasm.readSync(x.dataId) as Float32Array;
  const block = Math.max(1, Math.min(positions, Math.floor(IM2COL_BLOCK / k)));
  const dys = block < positions ? (wasm.readSync(dy.dataId) as Float32Array) : null;
  const matMul = tf.getKernel('BatchMatMul', 'wasm')!.kernelFunc;
  const sum = dys ? new Float32Array(k * co) : null;
  let last: tf.TensorInfo | null = null;
  // One buffer for every block (makeOutput copies it into wasm's heap); the last, shorter block uses its start.
  const buffer = new Float32Array(k * block);
  for (let r0 = 0; r0 < positions; r0 += block) {
    const n = Math.min(block, positions - r0);
    const cols = n === block ? buffer : buffer.subarray(0, k * n);
    if (r0 > 0) cols.fill(0);
    for (let r = 0; r < n; r++) {
      const ox = (r0 + r) % outWidth;
      const oy = Math.floor((r0 + r) / outWidth) % outHeight;
      const b = Math.floor((r0 + r) / (outWidth * outHeight));
      for (let p = 0; p < fh; p++) {
        const iy = oy * sh - top + p;
        if (iy < 0 || iy >= inHeight) continue;
        for (let q = 0; q < fw; q++) {
          const ix = ox * sw - left + q;
          if (ix < 0 || ix >= inWidth) continue;
          const src = ((b * inHeight + iy) * inWidth + ix) * ci;
          for (let c = 0, at = (p * fw + q) * ci * n + r; c < ci; c++, at += n) cols[at] = xs[src + c];
        }
      }
    }
    const colsInfo = wasm.makeOutput([k, n], 'float32', undefined, cols);
    const dyBlock = dys ? wasm.makeOutput([n, co], 'float32', undefined, dys.subarray(r0 * co, (r0 + n) * co)) : { dataId: dy.dataId, shape: [n, co], dtype: 'float32' as const };
    try {
      last = matMul({ inputs: { a: colsInfo, b: dyBlock }, backend: backend as tf.KernelBackend, attrs: { transposeA: false, transposeB: false } }) as tf.TensorInfo;
    } finally {
      wasm.disposeData(colsInfo.dataId);
      if (dyBlock.dataId !== dy.dataId) wasm.disposeData(dyBlock.dataId);
    }
    if (sum) {
      const part = wasm.readSync(last.dataId) as Float32Array;
      wasm.disposeData(last.dataId);
      for (let i = 0; i < part.length; i++) sum[i] += part[i];
    }
  }
  if (sum) return wasm.makeOutput(a.filterShape, 'float32', undefined, sum);
  // BatchMatMul's [K, co] is the filter's [fh, fw, ci, co] in row-major order: its data goes on under that shape.
  return { dataId: last!.dataId, shape: [...a.filterShape], dtype: 'float32' };
}

/** dW of a depthwise convolution: a loop over output positions (its arithmetic is small beside the convolutions'). */
function depthwiseBackpropFilter({ inputs, backend, attrs }: KernelArgs): tf.TensorInfo {
  const wasm = backend as WasmBackendLike;
  const a = attrs as unknown as tf.DepthwiseConv2dNativeBackpropFilterAttrs;
  const x = inputs.x!;
  const dy = inputs.dy!;
  const info = tf.backend_util.computeConv2DInfo(x.shape as Shape4, a.filterShape, a.strides, a.dilations, a.pad, a.dimRoundingMode, true);
  const { batchSize, inHeight, inWidth, inChannels: ci, outHeight, outWidth, outChannels: co, filterHeight: fh, filterWidth: fw, strideHeight: sh, strideWidth: sw } = info;
  // TF.js takes no gradient through a dilated depthwise convolution (and cpu's kernel ignores dilation).
  if (info.dilationHeight !== 1 || info.dilationWidth !== 1) throw new Error('DepthwiseConv2dNativeBackpropFilter (supplied wasm kernel) supports dilation 1 only');
  const multiplier = co / ci;
  const xs = wasm.readSync(x.dataId) as Float32Array;
  const dys = wasm.readSync(dy.dataId) as Float32Array;
  const sum = new Float64Array(fh * fw * co);
  for (let b = 0; b < batchSize; b++) {
    for (let oy = 0; oy < outHeight; oy++) {
      for (let ox = 0; ox < outWidth; ox++) {
        const row = ((b * outHeight + oy) * outWidth + ox) * co;
        for (let p = 0; p < fh; p++) {
          const iy = oy * sh - info.padInfo.top + p;
          if (iy < 0 || iy >= inHeight) continue;
          for (let q = 0; q < fw; q++) {
            const ix = ox * sw - info.padInfo.left + q;
            if (ix < 0 || ix >= inWidth) continue;
            const src = ((b * inHeight + iy) * inWidth + ix) * ci;
            const tap = (p * fw + q) * co;
            for (let c = 0; c < ci; c++) {
              const v = xs[src + c];
              for (let m = c * multiplier; m < (c + 1) * multiplier; m++) sum[tap + m] += v * dys[row + m];
            }
          }
        }
      }
    }
  }
  return wasm.makeOutput(a.filterShape, 'float32', undefined, Float32Array.from(sum));
}

/**
 * dx of max pooling: each window's dy goes to its first largest input (row-major, padding excluded), as the cpu
 * backend does. wasm's own MaxPoolGrad starts each window at 0, so a window whose maximum is not positive (common
 * after LeakyReLU) sends its gradient to the wrong pixel or nowhere.
 */
function maxPoolGrad({ inputs, backend, attrs }: KernelArgs): tf.TensorInfo {
  const wasm = backend as WasmBackendLike;
  const a = attrs as unknown as tf.MaxPoolGradAttrs;
  const x = inputs.input!;
  const dy = inputs.dy!;
  const info = tf.backend_util.computePool2DInfo(x.shape as Shape4, a.filterSize, a.strides, 1, a.pad, a.dimRoundingMode);
  const { batchSize, inHeight, inWidth, inChannels: channels, outHeight, outWidth, strideHeight: sh, strideWidth: sw, effectiveFilterHeight: fh, effectiveFilterWidth: fw } = info;
  const xs = wasm.readSync(x.dataId) as Float32Array;
  const dys = wasm.readSync(dy.dataId) as Float32Array;
  const dx = new Float32Array(xs.length);
  const best = new Float32Array(channels);
  const at = new Int32Array(channels);
  for (let b = 0; b < batchSize; b++) {
    for (let oy = 0; oy < outHeight; oy++) {
      const y0 = oy * sh - info.padInfo.top;
      for (let ox = 0; ox < outWidth; ox++) {
        const x0 = ox * sw - info.padInfo.left;
        best.fill(-Infinity);
        at.fill(-1);
        for (let iy = Math.max(0, y0); iy < Math.min(inHeight, y0 + fh); iy++) {
          for (let ix = Math.max(0, x0); ix < Math.min(inWidth, x0 + fw); ix++) {
            const src = ((b * inHeight + iy) * inWidth + ix) * channels;
            for (let c = 0; c < channels; c++) {
              if (xs[src + c] > best[c]) {
                best[c] = xs[src + c];
                at[c] = src + c;
              }
            }
          }
        }
        const row = ((b * outHeight + oy) * outWidth + ox) * channels;
        for (let c = 0; c < channels; c++) if (at[c] >= 0) dx[at[c]] += dys[row + c];
      }
    }
  }
  return wasm.makeOutput(x.shape, 'float32', undefined, dx);
}

/**
 * Tile by block copies. wasm's own Tile works out every output element's source index, and batch norm's gradient
 * tiles 1/sqrt(variance) to the input's shape: that took a third of a darknet-style model's gradient step.
 */
function fastTile(original: tf.KernelFunc) {
  return (args: KernelArgs): tf.TensorInfo => {
    const x = args.inputs.x!;
    if (x.dtype === 'string' || x.dtype === 'complex64' || x.shape.length === 0) return original(args as Parameters<tf.KernelFunc>[0]) as tf.TensorInfo;
    const wasm = args.backend as WasmBackendLike;
    const { reps } = args.attrs as unknown as tf.TileAttrs;
    const shape = x.shape;
    const outShape = shape.map((d, i) => d * reps[i]);
    const xs = wasm.readSync(x.dataId) as Float32Array | Int32Array | Uint8Array;
    const out = new (xs.constructor as new (length: number) => typeof xs)(outShape.reduce((a, b) => a * b, 1));
    const inStride = shape.map((_, d) => shape.slice(d + 1).reduce((a, b) => a * b, 1));
    const outStride = outShape.map((_, d) => outShape.slice(d + 1).reduce((a, b) => a * b, 1));
    // The output block under one index of the dimensions before d: x's block below d, then copies of it.
    const fill = (d: number, from: number, to: number): void => {
      if (d === shape.length - 1) out.set(xs.subarray(from, from + shape[d]), to);
      else for (let j = 0; j < shape[d]; j++) fill(d + 1, from + j * inStride[d], to + j * outStride[d]);
      const span = shape[d] * outStride[d];
      for (let r = 1; r < reps[d]; r++) out.copyWithin(to + r * span, to, to + span);
    };
    if (out.length > 0) fill(0, 0, 0);
    return wasm.makeOutput(outShape, x.dtype, undefined, out);
  };
}

/** Kernels tfjs-backend-wasm 4.22 does not have. */
const MISSING: Record<string, tf.KernelFunc> = {
  Conv2DBackpropFilter: conv2DBackpropFilter as unknown as tf.KernelFunc,
  DepthwiseConv2dNativeBackpropFilter: depthwiseBackpropFilter as unknown as tf.KernelFunc,
  DepthwiseConv2dNativeBackpropInput: depthwiseBackpropInput as unknown as tf.KernelFunc,
};

const installed = new Map<string, tf.KernelConfig | null>();

/** Puts `kernelFunc` (made from wasm's own) in place of wasm's kernel, keeping the original for uninstall. */
function replace(kernelName: string, make: (original: tf.KernelFunc) => tf.KernelFunc): boolean {
  const original = tf.getKernel(kernelName, 'wasm');
  if (!original || installed.has(kernelName)) return false;
  tf.unregisterKernel(kernelName, 'wasm');
  tf.registerKernel({ ...original, kernelFunc: make(original.kernelFunc) });
  installed.set(kernelName, original);
  return true;
}

/**
 * Registers the missing kernels above for wasm, replaces its MaxPoolGrad and Tile, and (unless `fastConv2DBackprop`
 * is false) routes its Conv2DBackpropInput through XNNPACK; returns the names it changed. Idempotent.
 */
export function installWasmGradientKernels(options: { fastConv2DBackprop?: boolean } = {}): string[] {
  if (!tf.findBackendFactory('wasm')) return [];
  const changed: string[] = [];
  for (const [kernelName, kernelFunc] of Object.entries(MISSING)) {
    if (tf.getKernel(kernelName, 'wasm')) continue;
    tf.registerKernel({ kernelName, backendName: 'wasm', kernelFunc });
    installed.set(kernelName, null);
    changed.push(kernelName);
  }
  if (replace('MaxPoolGrad', () => maxPoolGrad as unknown as tf.KernelFunc)) changed.push('MaxPoolGrad');
  if (replace('Tile', (original) => fastTile(original) as unknown as tf.KernelFunc)) changed.push('Tile');
  if (options.fastConv2DBackprop !== false && replace('Conv2DBackpropInput', (original) => fastConv2DBackpropInput(original) as unknown as tf.KernelFunc)) {
    changed.push('Conv2DBackpropInput');
  }
  return changed;
}

/** Whether this module supplied `kernelName` for wasm. */
export const isInstalled = (kernelName: string): boolean => installed.has(kernelName);

/** Restores wasm's kernels as shipped (tests use it). */
export function uninstallWasmGradientKernels(): void {
  for (const [kernelName, original] of installed) {
    tf.unregisterKernel(kernelName, 'wasm');
    if (original) tf.registerKernel(original);
  }
  installed.clear();
}

/** Names of the missing wasm kernels installWasmGradientKernels supplies. */
export const SUPPLIED_WASM_KERNELS = Object.keys(MISSING);
