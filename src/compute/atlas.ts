import { buildLevels, normaliseLayout } from './grid';
import type { ActivationTable, Layout } from './types';
import type { Atlas, AtlasModelInfo, AtlasParams } from '../export/atlasFile';

/** What recording produced, as plain columns (no tensors), ready to become an atlas. */
export interface RecordedColumns {
  table: ActivationTable;
  /** Output shape of the recorded layer, without the batch dimension. */
  layerShape: number[];
  names: string[];
  labels: (string | null)[];
  predicted: Int32Array;
  probability: Float32Array;
}

/**
 * One list of label names for true labels and predictions alike: the model's classes first (so predicted
 * indices map straight in), then any folder labels the model does not know.
 */
export function labelIndex(classNames: string[] | null) {
  const names = [...(classNames ?? [])];
  const index = new Map(names.map((n, i) => [n, i]));
  const of = (name: string) => {
    let i = index.get(name);
    if (i === undefined) {
      i = names.length;
      names.push(name);
      index.set(name, i);
    }
    return i;
  };
  return { names, of };
}

/** Builds the atlas: normalises the layout, bins every grid level and gathers the per-input columns. */
export function assembleAtlas(
  recorded: RecordedColumns,
  layout: Layout,
  model: AtlasModelInfo,
  params: AtlasParams,
  thumbnails: string[],
  gridSizes?: readonly number[],
): Atlas {
  const { table } = recorded;
  const labels = labelIndex(model.classNames);
  const n = recorded.names.length;
  const label = new Int32Array(n);
  const predicted = new Int32Array(n);
  const histogramLabel = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const truth = recorded.labels[i];
    label[i] = truth === null ? -1 : labels.of(truth);
    const p = recorded.predicted[i];
    predicted[i] = p < 0 ? -1 : labels.of(model.classNames?.[p] ?? `class ${p}`);
    // Cells are described by true labels where known, by predictions otherwise.
    histogramLabel[i] = label[i] >= 0 ? label[i] : predicted[i];
  }
  const normalised = normaliseLayout(layout);
  const levels = buildLevels(table, normalised, {
    sizes: gridSizes,
    minCount: params.minCellCount,
    topK: params.topK,
    inputLabel: histogramLabel,
  });
  return {
    model,
    layer: {
      name: table.layer,
      shape: recorded.layerShape,
      dim: table.dim,
      gridWidth: table.gridWidth,
      gridHeight: table.gridHeight,
    },
    params,
    labelNames: labels.names,
    inputs: {
      names: recorded.names,
      label: Array.from(label),
      predicted: Array.from(predicted),
      probability: Array.from(recorded.probability, (p) => Math.round(p * 1e4) / 1e4),
      thumbnails,
    },
    points: {
      input: Array.from(table.input),
      x: Array.from(table.x),
      y: Array.from(table.y),
      layoutX: Array.from({ length: table.count }, (_, r) => Math.round(normalised[2 * r] * 1e5) / 1e5),
      layoutY: Array.from({ length: table.count }, (_, r) => Math.round(normalised[2 * r + 1] * 1e5) / 1e5),
      totalBeforeSampling: table.totalBeforeSampling,
    },
    levels,
  };
}
