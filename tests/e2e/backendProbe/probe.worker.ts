import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import wasmPlain from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm?url';
import wasmSimd from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm?url';
import wasmThreaded from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-threaded-simd.wasm?url';
import modelJsonUrl from '../../../models/fashion-cnn/model.json?url';
import weightsUrl from '../../../models/fashion-cnn/weights.bin?url';
import textConfigUrl from '../../../models/text-gpt2/config.json?url';
import textWeightsUrl from '../../../models/text-gpt2/model.safetensors?url';
import { artifactsFromUrl } from '../../../src/model/image/artifacts';
import { sampleProvider } from '../../../src/model/image/providers';
import { parseSample } from '../../../src/model/image/sample';
import { runProbe, type ProbeRequest } from './checks';

// The same wasm set-up as src/workers/model.worker.ts: one probe per worker, as TF.js's backend is global.
setWasmPaths({
  'tfjs-backend-wasm.wasm': wasmPlain,
  'tfjs-backend-wasm-simd.wasm': wasmSimd,
  'tfjs-backend-wasm-threaded-simd.wasm': wasmThreaded,
});

const absolute = (url: string) => new URL(url, self.location.origin).toString();
const bytesOf = async (url: string) => new Uint8Array(await (await fetch(absolute(url))).arrayBuffer());

self.onmessage = async (event: MessageEvent<ProbeRequest>) => {
  try {
    const result = await runProbe(event.data, {
      cnn: () => artifactsFromUrl(absolute(modelJsonUrl), fetch, (name) => (name === 'weights.bin' ? absolute(weightsUrl) : name)),
      sample: async () => {
        const [manifest, bytes] = await Promise.all([fetch(absolute('/sample/manifest.json')).then((r) => r.json()), bytesOf('/sample/fashion-mnist-sample.u8')]);
        return sampleProvider(parseSample(manifest, bytes));
      },
      gpt2: async () => [
        { name: 'config.json', bytes: await bytesOf(textConfigUrl) },
        { name: 'model.safetensors', bytes: await bytesOf(textWeightsUrl) },
      ],
    });
    self.postMessage({ ok: true, result });
  } catch (e) {
    self.postMessage({ ok: false, error: e instanceof Error ? `${e.name}: ${e.message}` : String(e) });
  }
};
