import { defineConfig, type Plugin } from 'vite';
import react from '@vitejs/plugin-react';

/**
 * Two fixes to tfjs-backend-wasm's threaded build as bundled into a worker:
 * - It starts its threads from `factory.toString()` of the Emscripten module, but that factory reads `_scriptDir`
 *   from the closure around it, which a bundle renames and the thread's Blob does not have: every thread died with
 *   "e is not defined". Declaring the variable inside the factory makes its source self-contained (its value there
 *   was undefined in a worker anyway).
 * - Its C++ caps XNNPACK's pool at half of `emscripten_num_logical_cores()` (navigator.hardwareConcurrency),
 *   assuming two hyper-threads per core, whatever setThreadsCount asks: on a 2-core machine the pool had one
 *   thread. Reporting twice the logical cores makes the cap the logical cores themselves.
 */
function tfjsWasmThreads(): Plugin {
  const anchor = 'WasmBackendModuleThreadedSimd = WasmBackendModuleThreadedSimd || {};';
  const cores = 'function _emscripten_num_logical_cores(){if(ENVIRONMENT_IS_NODE)return require("os").cpus().length;return navigator["hardwareConcurrency"]}';
  return {
    name: 'tfjs-wasm-threads',
    transform(code, id) {
      if (!id.includes('tfjs-backend-wasm/wasm-out/tfjs-backend-wasm-threaded-simd.js')) return null;
      if (!code.includes(anchor)) this.error('tfjs-backend-wasm changed: the threaded factory no longer starts as expected.');
      if (!code.includes(cores)) this.error('tfjs-backend-wasm changed: emscripten_num_logical_cores no longer reads as expected.');
      const patched = code.replace(anchor, `${anchor} var _scriptDir;`).replace(cores, cores.replace('return navigator["hardwareConcurrency"]', 'return 2*navigator["hardwareConcurrency"]'));
      return { code: patched, map: null };
    },
  };
}

// Cross-origin isolation (COOP/COEP) makes SharedArrayBuffer available, which tfjs-backend-wasm's threaded
// build needs; the model worker starts threads on 4 or more logical cores unless ?threads=N says otherwise
// (defaultThreads in src/workers/modelService.ts).
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
