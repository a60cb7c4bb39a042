import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import wasmPlain from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm?url';
import wasmSimd from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm?url';
import wasmThreaded from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-threaded-simd.wasm?url';
import modelJsonUrl from '../../models/fashion-cnn/model.json?url';
import weightsUrl from '../../models/fashion-cnn/weights.bin?url';
import textConfigUrl from '../../models/text-gpt2/config.json?url';
import textWeightsUrl from '../../models/text-gpt2/model.safetensors?url';
import wideTextConfigUrl from '../../models/text-gpt2-wide/config.json?url';
import wideTextWeightsUrl from '../../models/text-gpt2-wide/model.safetensors?url';
import type { BuiltInTextModel } from '../model/text/textModel';
import { IndexedDbWeightCache } from '../model/text/weightCache';
import { artifactsFromUrl } from '../model/image/artifacts';
import { sampleProvider } from '../model/image/providers';
import { parseSample } from '../model/image/sample';
import { decodeImageToSize, decodeStats, encodePngDataUrl } from './imageCodec';
import { createModelService } from './modelService';
import { exposeRpc, type Endpoint } from './rpc';

// Vite emits the wasm binaries as hashed assets; tfjs must be told where they went.
setWasmPaths({
  'tfjs-backend-wasm.wasm': wasmPlain,
  'tfjs-backend-wasm-simd.wasm': wasmSimd,
  'tfjs-backend-wasm-threaded-simd.wasm': wasmThreaded,
});

// For tests, as window.__atlas is for the page: what decoding has cost in this worker.
(self as unknown as { __atlasModelWorker: object }).__atlasModelWorker = { decodeStats };

const base = new URL(import.meta.env.BASE_URL, self.location.origin);
const weightCache = new IndexedDbWeightCache();
const absolute = (url: string) => new URL(url, self.location.origin).toString();
/** Each built-in GPT-2's files, by name, as the bundler serves them. */
const TEXT_MODEL_URLS: Record<BuiltInTextModel, Record<'config.json' | 'model.safetensors', string>> = {
  small: { 'config.json': textConfigUrl, 'model.safetensors': textWeightsUrl },
  wide: { 'config.json': wideTextConfigUrl, 'model.safetensors': wideTextWeightsUrl },
};

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
    loadDefaultTextModel: (size) =>
      Promise.all(
        Object.entries(TEXT_MODEL_URLS[size]).map(async ([name, url]) => ({
          name,
          bytes: new Uint8Array(await (await fetch(absolute(url))).arrayBuffer()),
        })),
      ),
    loadTextSample: async () => [
      { path: 'moby-dick-sample.jsonl', bytes: new Uint8Array(await (await fetch(new URL('text-sample/moby-dick-sample.jsonl', base))).arrayBuffer()) },
    ],
    weightCache: () => (typeof indexedDB === 'undefined' ? null : weightCache),
    decodeImage: decodeImageToSize,
    encodePng: encodePngDataUrl,
  }),
  self as unknown as Endpoint,
);
