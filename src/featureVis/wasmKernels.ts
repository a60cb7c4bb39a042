import * as tf from '@tensorflow/tfjs';

/**
 * Gradient kernels for tfjs-backend-wasm 4.22: DepthwiseConv2dNativeBackpropInput, which it lacks (so
 * MobileNet's input gradient can run on wasm, about 30x faster than cpu), and a faster route for its
 * Conv2DBackpropInput. Both call wasm's own forward convolutions, so the arithmetic stays in wasm.
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
  if (!input) throw new Error('DepthwiseConv2dNativeBackpropInput (featureVis wasm kernel) supports dilation 1 and padding narrower than the filter only');
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

const MISSING: Record<string, tf.KernelFunc> = {
  DepthwiseConv2dNativeBackpropInput: depthwiseBackpropInput as unknown as tf.KernelFunc,
};

const installed = new Map<string, tf.KernelConfig | null>();

/**
 * Registers the missing kernel above for wasm, and (unless `fastConv2DBackprop` is false) routes wasm's
 * Conv2DBackpropInput through XNNPACK; returns the names it changed. Idempotent; the math is unchanged.
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
  const original = tf.getKernel('Conv2DBackpropInput', 'wasm');
  if (options.fastConv2DBackprop !== false && original && !installed.has('Conv2DBackpropInput')) {
    tf.unregisterKernel('Conv2DBackpropInput', 'wasm');
    tf.registerKernel({ ...original, kernelFunc: fastConv2DBackpropInput(original.kernelFunc) as unknown as tf.KernelFunc });
    installed.set('Conv2DBackpropInput', original);
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
