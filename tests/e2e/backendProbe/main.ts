import type { ProbeRequest, ProbeResult } from './checks';

/** How far one backend's output is from the reference's: largest absolute difference, and that over the reference's largest magnitude. */
export interface Difference {
  values: number;
  maxAbs: number;
  /** maxAbs / max |reference|. */
  relative: number;
  scale: number;
}

/** A probe run on a backend, with each output's difference from the reference run's (wasm). */
export interface Comparison {
  backend: string;
  reason: string;
  threads: number;
  errors: Record<string, string>;
  leakedTensors: number;
  differences: Record<string, Difference>;
  throughput?: ProbeResult['throughput'];
  seconds: number;
}

/** Runs one probe in a fresh module worker (TF.js's backend is per worker); rejects with the worker's error. */
function probe(request: ProbeRequest): Promise<ProbeResult> {
  const worker = new Worker(new URL('./probe.worker.ts', import.meta.url), { type: 'module' });
  return new Promise<ProbeResult>((resolve, reject) => {
    worker.onmessage = (e: MessageEvent<{ ok: true; result: ProbeResult } | { ok: false; error: string }>) =>
      e.data.ok ? resolve(e.data.result) : reject(new Error(`probe on ${request.backend}: ${e.data.error}`));
    worker.onerror = (e) => reject(new Error(`probe worker on ${request.backend} failed: ${e.message}`));
    worker.postMessage(request);
  }).finally(() => worker.terminate());
}

function difference(actual: Float32Array, reference: Float32Array): Difference {
  if (actual.length !== reference.length) return { values: actual.length, maxAbs: Infinity, relative: Infinity, scale: 0 };
  let maxAbs = 0;
  let scale = 0;
  for (let i = 0; i < reference.length; i++) {
    const d = Math.abs(actual[i] - reference[i]);
    // NaN on either side counts as an infinite difference.
    maxAbs = Math.max(maxAbs, Number.isNaN(d) ? Infinity : d);
    scale = Math.max(scale, Math.abs(reference[i]));
  }
  return { values: reference.length, maxAbs, relative: scale > 0 ? maxAbs / scale : maxAbs, scale };
}

let reference: ProbeResult | null = null;

/** Runs the checks on the reference backend (wasm, threads off) and keeps its outputs in the page. */
async function runReference(checks: ProbeRequest['checks'], backend = 'wasm'): Promise<Comparison> {
  const t0 = performance.now();
  reference = await probe({ backend, threads: 0, checks });
  const { outputs: _, ...rest } = reference;
  return { ...rest, differences: {}, seconds: (performance.now() - t0) / 1000 };
}

/** Runs the reference's checks on `backend` and compares every output with the reference's. */
async function compareWith(backend: string, options: { force?: boolean } = {}): Promise<Comparison> {
  if (!reference) throw new Error('Run the reference first.');
  const base = reference;
  const t0 = performance.now();
  const checks = (['cnn', 'gpt2', 'featureVis'] as const).filter((c) => Object.keys(base.outputs).some((k) => k.startsWith(`${c}.`)));
  const result = await probe({ backend, threads: 0, checks, force: options.force });
  const differences: Record<string, Difference> = {};
  for (const [name, values] of Object.entries(base.outputs)) {
    const mine = result.outputs[name];
    if (mine) differences[name] = difference(mine, values);
  }
  const { outputs: _, ...rest } = result;
  return { ...rest, differences, seconds: (performance.now() - t0) / 1000 };
}

/** Recording throughput on wasm with `threads` threads (see ProbeRequest.threads). */
async function throughput(threads: number, images: number, userModel?: { files: { name: string; base64: string }[]; images: number }): Promise<Omit<ProbeResult, 'outputs'>> {
  const files = userModel?.files.map((f) => ({ name: f.name, bytes: Uint8Array.from(atob(f.base64), (c) => c.charCodeAt(0)) }));
  const { outputs: _, ...rest } = await probe({ backend: 'wasm', threads, checks: ['throughput'], throughputImages: images, userModel: files && { files, images: userModel!.images } });
  return rest;
}

/** The WebGPU adapter this browser offers the page (null: none). */
async function webgpuAdapter(): Promise<{ vendor: string; architecture: string; fallback: boolean } | null> {
  const gpu = (navigator as unknown as { gpu?: { requestAdapter(): Promise<{ info?: { vendor: string; architecture: string; isFallbackAdapter?: boolean }; isFallbackAdapter?: boolean } | null> } }).gpu;
  const adapter = await gpu?.requestAdapter();
  if (!adapter) return null;
  return { vendor: adapter.info?.vendor ?? '', architecture: adapter.info?.architecture ?? '', fallback: Boolean(adapter.info?.isFallbackAdapter ?? adapter.isFallbackAdapter) };
}

const api = { runReference, compareWith, throughput, webgpuAdapter, crossOriginIsolated: self.crossOriginIsolated, hardwareConcurrency: navigator.hardwareConcurrency };
declare global {
  interface Window {
    __backendProbe?: typeof api;
  }
}
window.__backendProbe = api;
