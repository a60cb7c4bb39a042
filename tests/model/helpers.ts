import * as tf from '@tensorflow/tfjs';
import type { RawImage } from '../../src/model/image/preprocess';
import type { ImageProvider } from '../../src/model/image/recordImages';
import { createRng } from '../../src/lib/rng';

/** Artifacts of a small, real (randomly initialised) CNN: 12x12 RGB in, conv_a 10x10x6, conv_b 4x4x8, 3 classes. */
export async function smallCnnArtifacts(): Promise<tf.io.ModelArtifacts> {
  const model = tf.sequential({
    layers: [
      tf.layers.conv2d({ name: 'conv_a', inputShape: [12, 12, 3], filters: 6, kernelSize: 3, activation: 'relu', kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }) }),
      tf.layers.maxPooling2d({ name: 'pool', poolSize: 2 }),
      tf.layers.conv2d({ name: 'conv_b', filters: 8, kernelSize: 2, activation: 'relu', kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }) }),
      tf.layers.flatten({ name: 'flat' }),
      tf.layers.dense({ name: 'probs', units: 3, activation: 'softmax', kernelInitializer: tf.initializers.glorotUniform({ seed: 3 }) }),
    ],
  });
  const saved = await saveArtifacts(model);
  model.dispose();
  return saved;
}

/** A built model's artifacts, as model.save would write them. */
export async function saveArtifacts(model: tf.LayersModel): Promise<tf.io.ModelArtifacts> {
  let saved: tf.io.ModelArtifacts | null = null;
  await model.save(tf.io.withSaveHandler(async (artifacts) => {
    saved = artifacts;
    return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
  }));
  return saved!;
}

/** The model.json text and weight bytes those artifacts would be saved as. */
export function asFiles(artifacts: tf.io.ModelArtifacts): { json: string; weights: Uint8Array } {
  const json = JSON.stringify({
    modelTopology: artifacts.modelTopology,
    format: 'layers-model',
    weightsManifest: [{ paths: ['weights.bin'], weights: artifacts.weightSpecs }],
  });
  return { json, weights: new Uint8Array(artifacts.weightData as ArrayBuffer) };
}

export function randomImage(width: number, height: number, channels: RawImage['channels'], seed: number): RawImage {
  const random = createRng(seed);
  return { width, height, channels, data: Uint8Array.from({ length: width * height * channels }, () => Math.floor(random() * 256)) };
}

/** Inputs in memory; the ones listed in `broken` fail to load like a corrupt file. */
export function memoryProvider(images: RawImage[], broken: number[] = []): ImageProvider {
  return {
    count: images.length,
    name: (i) => `img${i}.png`,
    label: (i) => (i % 2 ? 'odd' : 'even'),
    load: async (i) => {
      if (broken.includes(i)) throw new Error('not a readable image');
      return images[i];
    },
  };
}
