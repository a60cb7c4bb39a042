import type { RangePoolProbeResult } from './probe.worker';

/** Runs the probe in a fresh module worker, as the app runs its compute worker; rejects with the worker's error. */
function probe(n: number, d: number): Promise<RangePoolProbeResult> {
  const worker = new Worker(new URL('./probe.worker.ts', import.meta.url), { type: 'module' });
  return new Promise<RangePoolProbeResult>((resolve, reject) => {
    worker.onmessage = (e: MessageEvent<{ ok: true; result: RangePoolProbeResult } | { ok: false; error: string }>) =>
      e.data.ok ? resolve(e.data.result) : reject(new Error(e.data.error));
    worker.onerror = (e) => reject(new Error(`probe worker failed: ${e.message}`));
    worker.postMessage({ n, d });
  }).finally(() => worker.terminate());
}

const api = { probe, crossOriginIsolated: window.crossOriginIsolated };

declare global {
  interface Window {
    __rangePoolProbe?: typeof api;
  }
}
window.__rangePoolProbe = api;
