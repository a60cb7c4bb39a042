import * as tf from '@tensorflow/tfjs';
import { saveArtifacts } from '../model/helpers';

/**
 * A darknet-style layers model as users bring them: convolutions without activation (fused and linear, so their
 * gradient runs Conv2DBackpropFilter), batch norm with non-trivial statistics, LeakyReLU, 2x2/2 and 3x3/1 max
 * pooling, then global average pooling and 5 softmax classes. `size` x `size` x 3 in; the last LeakyReLU
 * is `leaky_4`.
 */
export async function darknetArtifacts(size = 32): Promise<tf.io.ModelArtifacts> {
  let seed = 100;
  const next = () => seed++;
  const input = tf.input({ shape: [size, size, 3] });
  let h: tf.SymbolicTensor = input;
  const block = (i: number, filters: number, kernelSize: number, options: { strides?: number; useBias?: boolean } = {}) => {
    h = tf.layers.conv2d({ name: `conv_${i}`, filters, kernelSize, padding: 'same', strides: options.strides ?? 1, useBias: options.useBias ?? false, kernelInitializer: tf.initializers.glorotUniform({ seed: next() }) }).apply(h) as tf.SymbolicTensor;
    h = tf.layers.batchNormalization({
      name: `bn_${i}`,
      gammaInitializer: tf.initializers.randomUniform({ minval: 0.5, maxval: 1.5, seed: next() }),
      betaInitializer: tf.initializers.randomNormal({ stddev: 0.2, seed: next() }),
      movingMeanInitializer: tf.initializers.randomNormal({ stddev: 0.2, seed: next() }),
      movingVarianceInitializer: tf.initializers.randomUniform({ minval: 0.5, maxval: 1.5, seed: next() }),
    }).apply(h) as tf.SymbolicTensor;
    h = tf.layers.leakyReLU({ name: `leaky_${i}`, alpha: 0.1 }).apply(h) as tf.SymbolicTensor;
  };
  block(1, 8, 3);
  h = tf.layers.maxPooling2d({ name: 'pool_1', poolSize: 2, strides: 2 }).apply(h) as tf.SymbolicTensor;
  block(2, 16, 3);
  h = tf.layers.maxPooling2d({ name: 'pool_2', poolSize: 2, strides: 2 }).apply(h) as tf.SymbolicTensor;
  block(3, 16, 1, { useBias: true });
  block(4, 24, 3, { strides: 2 });
  h = tf.layers.maxPooling2d({ name: 'pool_4', poolSize: 3, strides: 1, padding: 'same' }).apply(h) as tf.SymbolicTensor;
  h = tf.layers.globalAveragePooling2d({ name: 'gap' }).apply(h) as tf.SymbolicTensor;
  const out = tf.layers.dense({ name: 'probs', units: 5, activation: 'softmax', kernelInitializer: tf.initializers.glorotUniform({ seed: next() }) }).apply(h) as tf.SymbolicTensor;
  const model = tf.model({ inputs: input, outputs: out });
  const saved = await saveArtifacts(model);
  model.dispose();
  return saved;
}
