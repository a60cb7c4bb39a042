import type { ImageModel } from './imageModel';
import { prepareImage, type Preprocessing } from './preprocess';
import type { ImageProvider } from './recordImages';

/**
 * Recorded inputs prepared again as the model sees them, N x H x W x C, decoded anew from their provider:
 * `names` are the recording's input names, `chosen` indexes them. Gradients need the inputs, and keeping every
 * prepared image of a recording would cost far more memory than decoding the few asked for again.
 */
export async function preparedInputs(
  model: ImageModel,
  provider: ImageProvider,
  names: readonly string[],
  chosen: readonly number[],
  preprocessing?: Preprocessing,
): Promise<Float32Array> {
  const byName = new Map<string, number>();
  for (let i = provider.count - 1; i >= 0; i--) byName.set(provider.name(i), i);
  const { inputHeight: height, inputWidth: width, inputChannels: channels } = model;
  const size = height * width * channels;
  const out = new Float32Array(chosen.length * size);
  for (let k = 0; k < chosen.length; k++) {
    const at = byName.get(names[chosen[k]]);
    if (at === undefined) throw new Error(`Input "${names[chosen[k]]}" is no longer available: build the atlas again.`);
    const { input, pixels } = prepareImage(await provider.load(at), { height, width, channels }, preprocessing ?? model.preprocessing);
    try {
      out.set(input.dataSync(), k * size);
    } finally {
      input.dispose();
      pixels.dispose();
    }
  }
  return out;
}
