import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

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
  worker: { format: 'es' },
  build: { target: 'es2022', chunkSizeWarningLimit: 4000 },
  // tsne-js is CommonJS and requires Node's `events`; the npm `events` package stands in.
  resolve: { alias: { events: 'events' } },
  optimizeDeps: { include: ['tsne-js', 'events'] },
});
