import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';

export type BackendName = 'webgpu' | 'webgl' | 'wasm' | 'cpu';

export interface BackendChoice {
  name: BackendName;
  reason: string;
}

const BROWSER_ORDER: BackendName[] = ['webgpu', 'webgl', 'wasm', 'cpu'];
const NODE_ORDER: BackendName[] = ['wasm', 'cpu'];

const isBackendName = (name: string): name is BackendName => (BROWSER_ORDER as string[]).includes(name);

/**
 * Why a GPU backend would run in software here, or null when it is a real GPU.
 * A software adapter (WebGPU fallback, SwiftShader/llvmpipe WebGL) is 20-40x slower than wasm.
 */
export async function softwareRendererReason(name: BackendName): Promise<string | null> {
  const scope = globalThis as unknown as {
    navigator?: { gpu?: { requestAdapter(): Promise<GpuAdapterLike | null> } };
    OffscreenCanvas?: typeof OffscreenCanvas;
  };
  if (name === 'webgpu') {
    const gpu = scope.navigator?.gpu;
    if (!gpu) return 'WebGPU is not available';
    const adapter = await gpu.requestAdapter().catch(() => null);
    if (!adapter) return 'no WebGPU adapter';
    if (adapter.info?.isFallbackAdapter || adapter.isFallbackAdapter) return 'WebGPU adapter is a software fallback';
    return null;
  }
  if (name === 'webgl') {
    if (!scope.OffscreenCanvas) return 'WebGL needs OffscreenCanvas here';
    const gl = new scope.OffscreenCanvas(1, 1).getContext('webgl2');
    if (!gl) return 'WebGL2 is not available';
    const info = gl.getExtension('WEBGL_debug_renderer_info');
    const renderer = String(info ? gl.getParameter(info.UNMASKED_RENDERER_WEBGL) : gl.getParameter(gl.RENDERER));
    gl.getExtension('WEBGL_lose_context')?.loseContext();
    if (/swiftshader|llvmpipe|software|basic render/i.test(renderer)) return `WebGL renderer is software (${renderer})`;
    return null;
  }
  return null;
}

interface GpuAdapterLike {
  isFallbackAdapter?: boolean;
  info?: { isFallbackAdapter?: boolean };
}

/** Values in the read-back probe: more than tfjs-backend-webgpu computes on the CPU (its hand-off threshold is 1,000). */
const READBACK_PROBE_SIZE = 4096;

/**
 * Why the current backend cannot be used, or null when it computes and reads back right: a backend can initialise
 * and still fail its first kernel (a lost context), or read values back wrong. tfjs-backend-webgpu 4.22's
 * synchronous read (dataSync, through a canvas) gave zeros on Chromium's SwiftShader WebGPU adapter in a worker
 * and lost the device, while its asynchronous read was right; the model code reads both ways.
 */
async function backendProblem(): Promise<string | null> {
  const n = READBACK_PROBE_SIZE;
  const wrong = (values: ArrayLike<number>) => values.length !== n || values[0] !== 1 || values[n - 1] !== n;
  const sync = tf.tidy(() => tf.add(tf.range(0, n), 1));
  const async_ = tf.tidy(() => tf.add(tf.range(0, n), 1));
  try {
    const values = sync.dataSync();
    if (wrong(values)) return `its synchronous read-back (dataSync) returns wrong values here (${values[0]}, ..., ${values[n - 1]} for 1, ..., ${n})`;
    const later = await async_.data();
    if (wrong(later)) return `its read-back (data) returns wrong values here (${later[0]}, ..., ${later[n - 1]} for 1, ..., ${n})`;
    return null;
  } catch (e) {
    return `its first kernel failed (${e instanceof Error ? e.message : String(e)})`;
  } finally {
    tf.dispose([sync, async_]);
  }
}

/** Switches to `name`; returns null when it works, else why not (a backend that works wrong is removed, so nothing picks it later). */
async function trySetBackend(name: BackendName): Promise<string | null> {
  if (name === 'webgpu') await import('@tensorflow/tfjs-backend-webgpu').catch(() => undefined);
  try {
    if (!(await tf.setBackend(name))) return 'failed to initialise';
    await tf.ready();
  } catch {
    return 'failed to initialise';
  }
  const problem = await backendProblem();
  if (problem) {
    try {
      tf.removeBackend(name);
    } catch {
      // A backend whose device is lost may fail to free itself; nothing here picks it again.
    }
  }
  return problem;
}

/**
 * Picks the fastest backend that really works: GPU backends only on real hardware, then wasm, then cpu.
 * `override` (e.g. from `?backend=`) forces one backend, falling back with a stated reason if it fails.
 */
export async function chooseBackend(options: { override?: string | null; node?: boolean } = {}): Promise<BackendChoice> {
  const order = options.node ? NODE_ORDER : BROWSER_ORDER;
  const skipped: string[] = [];
  const override = options.override;
  if (override) {
    const problem = isBackendName(override) ? await trySetBackend(override) : 'it is not a TF.js backend';
    if (!problem && isBackendName(override)) return { name: override, reason: `requested with ?backend=${override}` };
    skipped.push(`${override}: requested but ${problem}`);
  }
  for (const name of order) {
    if (name === override) continue;
    const software = options.node ? null : await softwareRendererReason(name);
    if (software) {
      skipped.push(`${name}: ${software}`);
      continue;
    }
    const problem = await trySetBackend(name);
    if (!problem) {
      const why = skipped.length ? `skipped ${skipped.join('; ')}` : 'fastest available';
      return { name, reason: why };
    }
    skipped.push(`${name}: ${problem}`);
  }
  throw new Error(`No TensorFlow.js backend works here (${skipped.join('; ')}).`);
}
