import type { RecordedColumns } from '../../src/compute/atlas';

/** A pooled image recording of an n x dim table, one input per row, no labels: what layoutAtlas takes. */
export function pooledRecording(values: Float32Array, n: number, dim: number): RecordedColumns {
  return {
    modality: 'image',
    model: { name: 'planted', kind: 'layers', inputHeight: 1, inputWidth: 1, inputChannels: 1, classNames: null },
    previews: { thumbnails: Array.from({ length: n }, () => '') },
    table: { layer: 'l', dim, count: n, values, input: Uint32Array.from({ length: n }, (_, i) => i), position: new Int32Array(n).fill(-1), positionShape: [], totalBeforeSampling: n },
    layerShape: [dim],
    samplesPerInput: 'pooled',
    names: Array.from({ length: n }, (_, i) => `x${i}`),
    labels: Array.from({ length: n }, () => null),
    predicted: new Int32Array(n).fill(-1),
    probability: new Float32Array(n),
    notices: [],
  };
}
