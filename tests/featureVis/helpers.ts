import * as tf from '@tensorflow/tfjs';

async function artifactsOf(model: tf.LayersModel): Promise<tf.io.ModelArtifacts> {
  let saved: tf.io.ModelArtifacts | null = null;
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      saved = artifacts;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  model.dispose();
  return saved!;
}

/** A tiny one-channel CNN: 10x10x1 (or the given height x width) in, conv (h-2)x(w-2)x4 (ReLU), 2 classes. */
export function grayCnnArtifacts(height = 10, width = 10): Promise<tf.io.ModelArtifacts> {
  return artifactsOf(
    tf.sequential({
      layers: [
        tf.layers.conv2d({ name: 'conv', inputShape: [height, width, 1], filters: 4, kernelSize: 3, activation: 'relu', kernelInitializer: tf.initializers.glorotUniform({ seed: 5 }) }),
        tf.layers.flatten({ name: 'flat' }),
        tf.layers.dense({ name: 'probs', units: 2, activation: 'softmax', kernelInitializer: tf.initializers.glorotUniform({ seed: 6 }) }),
      ],
    }),
  );
}

/** Crops with StridedSlice, an op TF.js has no gradient for. */
class StridedCrop extends tf.layers.Layer {
  static className = 'StridedCropForTests';
  override computeOutputShape(shape: tf.Shape): tf.Shape {
    return [shape[0], 6, 6, shape[3]];
  }
  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    const x = Array.isArray(inputs) ? inputs[0] : inputs;
    return tf.stridedSlice(x, [0, 1, 1, 0], [x.shape[0]!, 7, 7, x.shape[3]!], [1, 1, 1, 1]);
  }
}
tf.serialization.registerClass(StridedCrop);

/** A CNN whose path to `conv` runs an op without a gradient: 8x8x1 in, StridedSlice crop, conv 4x4x3. */
export function noGradientArtifacts(): Promise<tf.io.ModelArtifacts> {
  return artifactsOf(
    tf.sequential({
      layers: [
        new StridedCrop({ name: 'crop', inputShape: [8, 8, 1] } as tf.serialization.ConfigDict),
        tf.layers.conv2d({ name: 'conv', filters: 3, kernelSize: 3, activation: 'relu', kernelInitializer: tf.initializers.glorotUniform({ seed: 7 }) }),
        tf.layers.flatten({ name: 'flat' }),
        tf.layers.dense({ name: 'probs', units: 2, activation: 'softmax' }),
      ],
    }),
  );
}
