import type { ImageProvider } from './recordImages';
import type { Sample } from './sample';

/** The bundled sample as an image provider: pixels are already decoded, labels are class names. */
export function sampleProvider(sample: Sample): ImageProvider {
  const size = sample.width * sample.height * sample.channels;
  return {
    count: sample.count,
    name: (i) => `sample-${String(i).padStart(4, '0')}`,
    label: (i) => sample.labelNames[sample.labels[i]] ?? null,
    load: async (i) => ({
      width: sample.width,
      height: sample.height,
      channels: sample.channels,
      data: sample.images.subarray(i * size, (i + 1) * size),
    }),
  };
}
