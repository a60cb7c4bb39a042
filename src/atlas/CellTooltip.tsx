import type { AtlasCell } from '../compute/types';
import { labelName } from './cellStyle';

/** Count and top labels of the hovered cell, next to the pointer. */
export function CellTooltip({ cell, labelNames, x, y }: { cell: AtlasCell; labelNames: string[]; x: number; y: number }) {
  const top = cell.labels.slice(0, 3);
  return (
    <div className="cell-tooltip" style={{ left: x + 14, top: y + 14 }} role="tooltip">
      <div className="cell-tooltip-count">
        {cell.count} activation{cell.count === 1 ? '' : 's'}
      </div>
      {top.map(([label, n]) => (
        <div key={label}>
          {labelName(label, labelNames)} <span className="muted">{Math.round((100 * n) / cell.count)}%</span>
        </div>
      ))}
    </div>
  );
}
