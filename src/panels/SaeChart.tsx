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

/** One figure's line: `xs` from 0 to 1 across the chart; fixed: the y range, else the data's own. */
function Line({ testId, label, xs, values, format, fixed }: { testId: string; label: string; xs: number[]; values: number[]; format: (v: number) => string; fixed?: [number, number] }) {
  const [lo, hi] = fixed ?? [Math.min(0, ...values), Math.max(...values)];
  const span = hi - lo || 1;
  const x = (f: number) => PAD + (WIDTH - 2 * PAD) * f;
  const y = (v: number) => HEIGHT - PAD - ((HEIGHT - 2 * PAD) * (Math.min(hi, Math.max(lo, v)) - lo)) / span;
  const last = values[values.length - 1];
  return (
    <figure className="sae-series" data-testid={testId}>
      <figcaption className="small">
        <span className="muted">{label}</span>
        <strong data-testid="sae-series-last">{last === undefined ? '–' : format(last)}</strong>
      </figcaption>
      <svg viewBox={`0 0 ${WIDTH} ${HEIGHT}`} preserveAspectRatio="none" role="img" aria-label={`${label} over training`}>
        <rect x={0} y={0} width={WIDTH} height={HEIGHT} className="sae-chart-frame" />
        {values.length > 0 && <polyline className="sae-chart-line" data-points={values.length} points={values.map((v, k) => `${x(xs[k]).toFixed(1)},${y(v).toFixed(1)}`).join(' ')} />}
      </svg>
    </figure>
  );
}

/**
 * The live training curve: reconstruction MSE, fraction of variance explained, L0 (latents active per row) and dead
 * latents, one point per progress span, against the rows seen so far (so that the lines fill the chart at any stage of
 * a long run; the bar shows the rest); for a GPT-2 layer also the loss recovered at each epoch's end, by epoch.
 */
export function SaeChart({ curve, epochLoss }: { curve: SaeTrainProgress[]; epochLoss: readonly number[] }) {
  const seen = curve[curve.length - 1]?.rowsSeen || 1;
  const xs = curve.map((p) => p.rowsSeen / seen);
  return (
    <div
      className="sae-chart"
      data-testid="sae-chart"
      data-spans={curve.length}
      title="MSE: reconstruction error per element; FVE: fraction of variance explained; L0: latents active per row; dead: latents silent over the last rows; loss recovered: with the SAE spliced in, at each epoch's end"
    >
      {SERIES.map((s) => (
        <Line key={s.key} testId={`sae-series-${s.key}`} label={s.label} xs={xs} values={curve.map((p) => p[s.key])} format={s.format} fixed={s.fixed} />
      ))}
      {epochLoss.length > 0 && (
        <Line
          testId="sae-series-loss"
          label="loss recovered"
          xs={epochLoss.map((_, k) => (epochLoss.length > 1 ? k / (epochLoss.length - 1) : 1))}
          values={[...epochLoss]}
          format={(v) => v.toFixed(3)}
          fixed={[0, 1]}
        />
      )}
    </div>
  );
}
