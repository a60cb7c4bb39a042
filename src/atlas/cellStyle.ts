import type { AtlasCell } from '../compute/types';

/** Icon opacity from a cell's count: sparse cells fade, on a log scale so dense ones do not dominate. */
export function countOpacity(count: number, maxCount: number): number {
  if (maxCount <= 1) return 1;
  const t = Math.log1p(count) / Math.log1p(maxCount);
  return 0.3 + 0.7 * Math.min(1, Math.max(0, t));
}

/** The cell's label when one label clearly dominates it, else null. */
export function clearLabel(cell: AtlasCell, labelNames: readonly string[], minShare = 0.6, minCount = 3): string | null {
  const first = cell.labels[0];
  if (!first || cell.count < minCount) return null;
  const [label, n] = first;
  if (label < 0 || label >= labelNames.length || n / cell.count < minShare) return null;
  return labelNames[label];
}

const PALETTE: [number, number, number][] = [
  [78, 121, 167], [242, 142, 43], [225, 87, 89], [118, 183, 178], [89, 161, 79],
  [237, 201, 72], [176, 122, 161], [255, 157, 167], [156, 117, 95], [186, 176, 172],
  [31, 119, 180], [174, 199, 232], [255, 127, 14], [44, 160, 44], [214, 39, 40],
  [148, 103, 189], [140, 86, 75], [227, 119, 194], [127, 127, 127], [188, 189, 34],
];

/** A stable colour per label index; unknown labels are grey. */
export function labelColor(label: number): [number, number, number] {
  return label < 0 ? [140, 140, 140] : PALETTE[label % PALETTE.length];
}

export function labelName(label: number, labelNames: readonly string[]): string {
  return label >= 0 && label < labelNames.length ? labelNames[label] : 'unlabelled';
}

/** Channels of a mean activation vector, strongest (largest magnitude, either sign) first. */
export function strongestChannels(mean: Float32Array, k: number): { channel: number; value: number }[] {
  const order = Array.from(mean.keys()).sort((a, b) => Math.abs(mean[b]) - Math.abs(mean[a]) || a - b);
  return order.slice(0, k).map((channel) => ({ channel, value: mean[channel] }));
}

export interface PlacedLabel {
  i: number;
  j: number;
  text: string;
}

/**
 * Chooses which clear cells carry their class label: the strongest first, skipping a cell when a
 * label is already within one cell of it, or the same label within `sameRadius` cells, so a
 * cluster is named once or twice instead of on every cell.
 */
export function placeLabels(cells: readonly AtlasCell[], labelNames: readonly string[], sameRadius = 4): PlacedLabel[] {
  const candidates = cells
    .map((cell) => ({ cell, text: clearLabel(cell, labelNames) }))
    .filter((c): c is { cell: AtlasCell; text: string } => c.text !== null)
    .sort((a, b) => b.cell.labels[0][1] - a.cell.labels[0][1] || a.cell.j - b.cell.j || a.cell.i - b.cell.i);
  const placed: PlacedLabel[] = [];
  for (const { cell, text } of candidates) {
    const blocked = placed.some((p) => {
      const d = Math.max(Math.abs(p.i - cell.i), Math.abs(p.j - cell.j));
      return d <= 1 || (p.text === text && d <= sameRadius);
    });
    if (!blocked) placed.push({ i: cell.i, j: cell.j, text });
  }
  return placed;
}
