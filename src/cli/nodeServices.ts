import sharp from 'sharp';
import type { ModelServiceDeps } from '../workers/modelService';
import { bundledSample, DEFAULT_MODEL_DIR } from './buildAtlas';
import { artifactsFromDirectory, pngDataUrl } from './nodeIo';

/** The model worker's service as Node runs it: assets from this checkout, decoding and PNG encoding by sharp. */
export function nodeModelServiceDeps(): ModelServiceDeps {
  return {
    loadDefaultModel: async () => (await artifactsFromDirectory(DEFAULT_MODEL_DIR)).artifacts,
    loadSample: bundledSample,
    async decodeImage(blob, size) {
      const { data, info } = await sharp(Buffer.from(await blob.arrayBuffer()), { failOn: 'error' })
        .rotate()
        .resize(size.width, size.height, { fit: 'fill' })
        .toColourspace('srgb')
        .raw()
        .toBuffer({ resolveWithObject: true });
      return { width: info.width, height: info.height, channels: info.channels as 1 | 2 | 3 | 4, data: new Uint8Array(data) };
    },
    encodePng: pngDataUrl,
  };
}
