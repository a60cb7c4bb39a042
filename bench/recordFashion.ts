import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadModelForCli } from '../src/cli/buildAtlas';
import { chooseBackend } from '../src/model/backend';
import { sampleProvider } from '../src/model/image/providers';
import { recordActivations } from '../src/model/image/recordImages';
import { loadSampleFromDisk } from '../src/model/image/sampleNode';

/** Where the benchmarks find real activations: conv3 of the default model at every position of the sample. */
export const FASHION_ACTIVATIONS = join(dirname(fileURLToPath(import.meta.url)), 'data', 'fashion-conv3.f32');

/** Records conv3 at all 7 x 7 positions of the 3,000 sample images (147,000 x 32) and writes .f32 + .json. */
export async function recordFashionActivations(path = FASHION_ACTIVATIONS): Promise<{ n: number; d: number }> {
  await chooseBackend({ node: true });
  const model = await loadModelForCli('default');
  try {
    const rec = await recordActivations(model, sampleProvider(await loadSampleFromDisk()), { layer: 'conv3', samplesPerInput: 'all', seed: 0 });
    const { values, count: n, dim: d } = rec.table;
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, new Uint8Array(values.buffer, values.byteOffset, values.byteLength));
    writeFileSync(path.replace(/\.f32$/, '.json'), JSON.stringify({ n, d, layer: 'conv3', model: 'fashion-cnn', positions: 'all', inputs: rec.names.length }));
    return { n, d };
  } finally {
    model.dispose();
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { n, d } = await recordFashionActivations();
  console.log(`wrote ${FASHION_ACTIVATIONS}: ${n} x ${d}`);
}
