import type * as tf from '@tensorflow/tfjs';
import type { ImageModel } from '../model/image/imageModel';
import { hashFloats, hashString } from './cache';

/** A model identity for cache keys: a hash of its name, input size and every weight value. */
export async function modelFingerprint(model: ImageModel): Promise<string> {
  const tfModel = model.tfModel as tf.LayersModel | tf.GraphModel;
  const tensors: tf.Tensor[] =
    model.kind === 'graph'
      ? Object.values((tfModel as tf.GraphModel).weights).flat()
      : (tfModel as tf.LayersModel).weights.map((w) => w.read());
  const parts = [hashString(`${model.name}|${model.inputHeight}x${model.inputWidth}x${model.inputChannels}`)];
  for (const t of tensors) {
    if (t.dtype !== 'float32') continue;
    parts.push(hashFloats((await t.data()) as Float32Array));
  }
  return hashString(parts.join(''));
}
