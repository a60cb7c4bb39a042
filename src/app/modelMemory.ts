import type { useAtlasStore } from '../store';

/** One reading of the model worker's memory while a build recorded. */
export interface ModelMemorySample {
  /** Inputs recorded (decoded and run through the model) when the reading came back, of `total`. */
  inputs: number;
  total: number;
  /** The model worker's bytes: its JavaScript heap with its array buffers (TF.js's wasm memory among them). */
  bytes: number;
}

/** What `window.__atlas.modelMemory` reports. */
export interface ModelMemory {
  /** Whether the browser can measure a worker's memory (performance.measureUserAgentSpecificMemory, cross-origin isolated pages). */
  available: boolean;
  /** The readings of the last build's recording stage, in order. */
  samples: readonly ModelMemorySample[];
}

/** Pause between readings, so that a forced measurement (a full GC) stays a small share of the build. */
const SAMPLE_GAP_MS = 500;

interface MemoryBreakdown {
  bytes: number;
  attribution: { url?: string; scope?: string }[];
}
type MeasureMemory = () => Promise<{ breakdown: MemoryBreakdown[] }>;

/** The model worker's share of a measurement: the entries attributed to it alone (`model.worker` in dev and build alike). */
export function modelWorkerBytes(breakdown: readonly MemoryBreakdown[]): number {
  let bytes = 0;
  for (const entry of breakdown) {
    if (entry.attribution.length === 1 && entry.attribution[0].scope === 'DedicatedWorkerGlobalScope' && /model\.worker/.test(entry.attribution[0].url ?? '')) bytes += entry.bytes;
  }
  return bytes;
}

/**
 * Reads the model worker's memory, one measurement at a time, for as long as each build records, so a script
 * can check that it stays flat over a large folder. Chromium answers a measurement at its next garbage
 * collection (within 20 s); with `--enable-blink-features=ForceEagerMeasureMemory` at once, after a full GC.
 * Returns the live readings and a stop function.
 */
export function sampleModelMemory(store: typeof useAtlasStore): { current(): ModelMemory; stop(): void } {
  const measure = (performance as unknown as { measureUserAgentSpecificMemory?: MeasureMemory }).measureUserAgentSpecificMemory;
  const available = typeof measure === 'function' && globalThis.crossOriginIsolated === true;
  let samples: ModelMemorySample[] = [];
  let build = 0;
  let sampling = false;
  let stopped = false;
  const recording = () => store.getState().status === 'recording';

  const loop = async () => {
    sampling = true;
    try {
      while (!stopped && recording()) {
        const ofBuild = build;
        const result = await measure!.call(performance).catch(() => null);
        if (!result) break;
        // A reading asked for during an earlier build is not this build's.
        if (ofBuild === build) {
          const record = store.getState().progress.record;
          samples.push({ inputs: record?.done ?? 0, total: record?.total ?? 0, bytes: modelWorkerBytes(result.breakdown) });
        }
        await new Promise((r) => setTimeout(r, SAMPLE_GAP_MS));
      }
    } finally {
      sampling = false;
    }
  };

  const unsubscribe = store.subscribe((state, previous) => {
    if (!available || state.status !== 'recording' || previous.status === 'recording') return;
    build++;
    samples = [];
    // A loop still running (between readings) goes on with this build.
    if (!sampling) void loop();
  });
  return {
    current: () => ({ available, samples: [...samples] }),
    stop() {
      stopped = true;
      unsubscribe();
    },
  };
}
