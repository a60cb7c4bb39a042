import * as tf from '@tensorflow/tfjs';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import wasmPlain from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm?url';
import wasmSimd from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm?url';
import wasmThreaded from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-threaded-simd.wasm?url';
import modelJsonUrl from '../../models/fashion-cnn/model.json?url';
import weightsUrl from '../../models/fashion-cnn/weights.bin?url';
import { createModelService } from './modelService';
import { exposeRpc, type Endpoint } from './rpc';

// tfjs's threaded wasm build spawns its own workers from a script that breaks once bundled (they die with
// "e is not defined"); the single-threaded SIMD build is stable, so threads stay off.
tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);

// Vite emits the wasm binaries as hashed assets; tfjs must be told where they went.
setWasmPaths({
  'tfjs-backend-wasm.wasm': wasmPlain,
  'tfjs-backend-wasm-simd.wasm': wasmSimd,
  'tfjs-backend-wasm-threaded-simd.wasm': wasmThreaded,
});

const base = new URL(import.meta.env.BASE_URL, self.location.origin);
exposeRpc(
  createModelService({
    modelJsonUrl: new URL(modelJsonUrl, self.location.origin).toString(),
    weightUrls: { 'weights.bin': new URL(weightsUrl, self.location.origin).toString() },
    sampleManifestUrl: new URL('sample/manifest.json', base).toString(),
    sampleDataUrl: new URL('sample/fashion-mnist-sample.u8', base).toString(),
  }),
  self as unknown as Endpoint,
);
