import type { SaeTrainProgress } from '../workers/protocol';

const WIDTH = 128;
const HEIGHT = 46;
const PAD = 3;

/** The figures the chart draws, each against the share of training done. */
const SERIES: { key: 'mse' | 'fve' | 'l0' | 'deadLatents'; label: string; format: (v: number) => string; fixed?: [number, number] }[] = [
  { key: 'mse', label: 'MSE', format: (v) => (v < 0.01 ? v.toExponential(2) : v.toFixed(3)) },
  { key: 'fve', label: 'FVE', format: (v) => v.toFixed(3), fixed: [0, 1] },
  { key: 'l0', label: 'L0', format: (v) => v.toFixed(1) },
  { key: 'deadLatents', label: 'dead', format: (v) => v.toFixed(0) },
];

/** One figure's line over training, from 0 to all rows seen; fixed: the y range, else the data's own. */
function Line({ curve, series }: { curve: SaeTrainProgress[]; series: (typeof SERIES)[number] }) {
  const values = curve.map((p) => p[series.key]);
  const [lo, hi] = series.fixed ?? [Math.min(0, ...values), Math.max(...values)];
  const span = hi - lo || 1;
  // Against the rows seen so far, so that the line fills the chart at any stage of a long run (the bar shows the rest).
  const seen = curve[curve.length - 1]?.rowsSeen || 1;
  const x = (p: SaeTrainProgress) => PAD + ((WIDTH - 2 * PAD) * p.rowsSeen) / seen;
  const y = (v: number) => HEIGHT - PAD - ((HEIGHT - 2 * PAD) * (Math.min(hi, Math.max(lo, v)) - lo)) / span;
  const last = values[values.length - 1];
  return (
    <figure className="sae-series" data-testid={`sae-series-${series.key}`}>
      <figcaption className="small">
        <span className="muted">{series.label}</span>
        <strong data-testid="sae-series-last">{last === undefined ? '–' : series.format(last)}</strong>
      </figcaption>
      <svg viewBox={`0 0 ${WIDTH} ${HEIGHT}`} preserveAspectRatio="none" role="img" aria-label={`${series.label} over training`}>
        <rect x={0} y={0} width={WIDTH} height={HEIGHT} className="sae-chart-frame" />
        {curve.length > 0 && <polyline className="sae-chart-line" data-points={curve.length} points={curve.map((p, k) => `${x(p).toFixed(1)},${y(values[k]).toFixed(1)}`).join(' ')} />}
      </svg>
    </figure>
  );
}

/**
 * The live training curve: reconstruction MSE, fraction of variance explained, L0 (latents active per row) and dead
 * latents, one point per progress span, against the rows seen so far.
 */
export function SaeChart({ curve }: { curve: SaeTrainProgress[] }) {
  return (
    <div className="sae-chart" data-testid="sae-chart" data-spans={curve.length} title="MSE: reconstruction error per element; FVE: fraction of variance explained; L0: latents active per row; dead: latents silent over the last rows">
      {SERIES.map((s) => (
        <Line key={s.key} curve={curve} series={s} />
      ))}
    </div>
  );
}
