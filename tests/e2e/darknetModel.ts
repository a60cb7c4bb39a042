import * as tf from '@tensorflow/tfjs';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { saveArtifacts } from '../model/helpers';
import { tempDir } from '../tempDir';

/** The layer a user of a darknet-style model records: the last LeakyReLU before pooling to classes. */
export const DARKNET_LAYER = 'leaky_re_lu_3';

/**
 * A darknet-style TF.js layers model, as a user brings one: convolutions without bias, batch norm with
 * non-trivial statistics, LeakyReLU and max pooling, then global pooling and 10 classes. Seeded weights;
 * written as model.json and two weight shards in a temp folder. Returns the files' paths.
 */
export async function darknetStyleModel(size = 96): Promise<string[]> {
  tf.setBackend('cpu');
  const model = tf.sequential({ name: 'darknet-style' });
  const widths = [16, 32, 64, 64];
  widths.forEach((filters, k) => {
    model.add(
      tf.layers.conv2d({
        ...(k === 0 ? { inputShape: [size, size, 3] } : {}),
        filters,
        kernelSize: 3,
        padding: 'same',
        useBias: false,
        kernelInitializer: tf.initializers.heNormal({ seed: 11 + k }),
        name: `conv2d_${k}`,
      }),
    );
    model.add(tf.layers.batchNormalization({ name: `batch_normalization_${k}` }));
    model.add(tf.layers.leakyReLU({ alpha: 0.1, name: `leaky_re_lu_${k}` }));
    if (k < widths.length - 1) model.add(tf.layers.maxPooling2d({ poolSize: 2, strides: 2, name: `max_pooling2d_${k}` }));
  });
  model.add(tf.layers.globalAveragePooling2d({ name: 'global_average_pooling2d' }));
  model.add(tf.layers.dense({ units: 10, activation: 'softmax', kernelInitializer: tf.initializers.glorotUniform({ seed: 99 }), name: 'predictions' }));
  // Batch norm as a trained network has it: moving statistics and affine parameters away from 0 and 1.
  for (let k = 0; k < widths.length; k++) {
    const bn = model.getLayer(`batch_normalization_${k}`);
    const n = widths[k];
    const wave = (scale: number, offset: number, phase: number) => tf.tensor1d(Array.from({ length: n }, (_, c) => offset + scale * Math.sin(c * 1.7 + phase)));
    bn.setWeights([wave(0.2, 1, k), wave(0.1, 0.05, k + 1), wave(0.3, 0, k + 2), wave(0.5, 1.5, k + 3)]);
  }
  const artifacts = await saveArtifacts(model);
  const dir = tempDir('atlas-e2e-darknet-');
  const bytes = new Uint8Array(artifacts.weightData as ArrayBuffer);
  const half = Math.ceil(bytes.length / 8) * 4;
  const shards = [bytes.slice(0, half), bytes.slice(half)];
  const paths = shards.map((_, k) => `group1-shard${k + 1}of2.bin`);
  shards.forEach((shard, k) => writeFileSync(join(dir, paths[k]), shard));
  const modelJson = {
    format: 'layers-model',
    generatedBy: 'tests/e2e/darknetModel.ts',
    convertedBy: null,
    modelTopology: artifacts.modelTopology,
    weightsManifest: [{ paths, weights: artifacts.weightSpecs }],
  };
  writeFileSync(join(dir, 'model.json'), JSON.stringify(modelJson));
  model.dispose();
  return ['model.json', ...paths].map((name) => join(dir, name));
}
