import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { BUILT_IN_TEXT_MODELS } from '../model/text/textModel';
import type { ModelServiceDeps } from '../workers/modelService';
import { bundledSample, DEFAULT_MODEL_DIR } from './buildAtlas';
import { artifactsFromDirectory, pngDataUrl } from './nodeIo';

const MODELS_DIR = fileURLToPath(new URL('../../models', import.meta.url));
const TEXT_SAMPLE_DIR = fileURLToPath(new URL('../../public/text-sample', import.meta.url));

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
    loadDefaultTextModel: async (size) =>
      Promise.all(
        ['config.json', 'model.safetensors'].map(async (name) => ({ name, bytes: new Uint8Array(await readFile(join(MODELS_DIR, BUILT_IN_TEXT_MODELS[size].folder, name))) })),
      ),
    loadTextSample: async () => [{ path: 'moby-dick-sample.jsonl', bytes: new Uint8Array(await readFile(join(TEXT_SAMPLE_DIR, 'moby-dick-sample.jsonl'))) }],
    weightCache: () => null,
  };
}
