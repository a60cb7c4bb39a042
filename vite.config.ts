import { defineConfig, type Plugin } from 'vite';
import react from '@vitejs/plugin-react';

/**
 * tfjs-backend-wasm starts its threads from `factory.toString()` of the Emscripten module, but that factory
 * reads `_scriptDir` from the closure around it, which a bundle renames and the thread's Blob does not
 * have: every thread died with "e is not defined". Declaring the variable inside the factory makes its
 * source self-contained (its value there was undefined in a worker anyway).
 */
function tfjsWasmThreads(): Plugin {
  const anchor = 'WasmBackendModuleThreadedSimd = WasmBackendModuleThreadedSimd || {};';
  return {
    name: 'tfjs-wasm-threads',
    transform(code, id) {
      if (!id.includes('tfjs-backend-wasm/wasm-out/tfjs-backend-wasm-threaded-simd.js')) return null;
      if (!code.includes(anchor)) this.error('tfjs-backend-wasm changed: the threaded factory no longer starts as expected.');
      return { code: code.replace(anchor, `${anchor} var _scriptDir;`), map: null };
    },
  };
}

// Cross-origin isolation (COOP/COEP) makes SharedArrayBuffer available, which tfjs-backend-wasm's threaded
// build needs; the model worker keeps its threads off for now (see src/workers/model.worker.ts).
const isolation = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
};

export default defineConfig({
  plugins: [react()],
  server: { headers: isolation },
  preview: { headers: isolation },
  worker: { format: 'es', plugins: () => [tfjsWasmThreads()] },
  build: { target: 'es2022', chunkSizeWarningLimit: 4000 },
  // tsne-js is CommonJS and requires Node's `events`; the npm `events` package stands in.
  resolve: { alias: { events: 'events' } },
  optimizeDeps: { include: ['tsne-js', 'events'] },
});
