import { labelColor, labelName } from '../atlas/cellStyle';

/** [label, count] pairs as bars coloured by label, each as a share of `total`. */
export function LabelHistogram({ labels, labelNames, total, shown = 10 }: { labels: [number, number][]; labelNames: string[]; total: number; shown?: number }) {
  return (
    <ul className="histogram">
      {labels.slice(0, shown).map(([label, n]) => {
        const [r, g, b] = labelColor(label);
        return (
          <li key={label}>
            <span className="bar-label">{labelName(label, labelNames)}</span>
            <span className="bar" style={{ width: `${(100 * n) / total}%`, background: `rgb(${r},${g},${b})` }} />
            <span className="bar-value">{n}</span>
          </li>
        );
      })}
    </ul>
  );
}
