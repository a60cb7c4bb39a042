import * as tf from '@tensorflow/tfjs';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import wasmPlain from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm?url';
import wasmSimd from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm?url';
import wasmThreaded from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-threaded-simd.wasm?url';
import modelJsonUrl from '../../models/fashion-cnn/model.json?url';
import weightsUrl from '../../models/fashion-cnn/weights.bin?url';
import { artifactsFromUrl } from '../model/image/artifacts';
import { sampleProvider } from '../model/image/providers';
import { parseSample } from '../model/image/sample';
import { decodeImageToSize, decodeStats, encodePngDataUrl } from './imageCodec';
import { createModelService } from './modelService';
import { exposeRpc, type Endpoint } from './rpc';

// tfjs's threaded wasm build spawns its own workers from a script that breaks once bundled (they die with
// "e is not defined"); the single-threaded SIMD build is stable, so threads stay off for now.
tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);

// Vite emits the wasm binaries as hashed assets; tfjs must be told where they went.
setWasmPaths({
  'tfjs-backend-wasm.wasm': wasmPlain,
  'tfjs-backend-wasm-simd.wasm': wasmSimd,
  'tfjs-backend-wasm-threaded-simd.wasm': wasmThreaded,
});

// For tests, as window.__atlas is for the page: what decoding has cost in this worker.
(self as unknown as { __atlasModelWorker: object }).__atlasModelWorker = { decodeStats };

const base = new URL(import.meta.env.BASE_URL, self.location.origin);
const absolute = (url: string) => new URL(url, self.location.origin).toString();

exposeRpc(
  createModelService({
    loadDefaultModel: () => artifactsFromUrl(absolute(modelJsonUrl), fetch, (name) => (name === 'weights.bin' ? absolute(weightsUrl) : name)),
    loadSample: async () => {
      const [manifest, bytes] = await Promise.all([
        fetch(new URL('sample/manifest.json', base)).then((r) => r.json()),
        fetch(new URL('sample/fashion-mnist-sample.u8', base)).then((r) => r.arrayBuffer()),
      ]);
      return sampleProvider(parseSample(manifest, new Uint8Array(bytes)));
    },
    decodeImage: decodeImageToSize,
    encodePng: encodePngDataUrl,
  }),
  self as unknown as Endpoint,
);
