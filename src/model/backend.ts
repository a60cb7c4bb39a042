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

async function trySetBackend(name: BackendName): Promise<boolean> {
  if (name === 'webgpu') await import('@tensorflow/tfjs-backend-webgpu').catch(() => undefined);
  try {
    const ok = await tf.setBackend(name);
    if (!ok) return false;
    await tf.ready();
    // A backend can initialise and still fail its first kernel (e.g. a lost context).
    tf.tidy(() => tf.add(tf.scalar(1), tf.scalar(1)).dataSync());
    return true;
  } catch {
    return false;
  }
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
    if (isBackendName(override) && (await trySetBackend(override))) {
      return { name: override, reason: `requested with ?backend=${override}` };
    }
    skipped.push(`${override}: requested but failed to initialise`);
  }
  for (const name of order) {
    if (name === override) continue;
    const software = options.node ? null : await softwareRendererReason(name);
    if (software) {
      skipped.push(`${name}: ${software}`);
      continue;
    }
    if (await trySetBackend(name)) {
      const why = skipped.length ? `skipped ${skipped.join('; ')}` : 'fastest available';
      return { name, reason: why };
    }
    skipped.push(`${name}: failed to initialise`);
  }
  throw new Error(`No TensorFlow.js backend works here (${skipped.join('; ')}).`);
}
