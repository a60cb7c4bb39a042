import type { TcavState } from '../store';

const WIDTH = 272;
const ROW = 34;
const LEFT = 86;
const BAR = 11;

/**
 * TCAV as a bar chart (Kim et al. 2018, Fig. 4): per class the concept's score (mean over its runs, with their
 * spread) beside the random concepts' mean and spread; a star marks a class significant after Bonferroni.
 */
export function TcavChart({ tcav, accuracy }: { tcav: TcavState; accuracy: number | null }) {
  const x = (v: number) => LEFT + v * (WIDTH - LEFT - 28);
  const height = tcav.classes.length * ROW + 22;
  return (
    <figure className="tcav" data-testid="tcav-chart">
      <svg width={WIDTH} height={height} role="img" aria-label="TCAV scores of the concept and of random concepts per class">
        {[0, 0.5, 1].map((t) => (
          <g key={t}>
            <line x1={x(t)} x2={x(t)} y1={0} y2={height - 16} className="tcav-grid" />
            <text x={x(t)} y={height - 4} className="tcav-axis" textAnchor="middle">
              {t}
            </text>
          </g>
        ))}
        {tcav.classes.map((c, k) => {
          const y = k * ROW + 4;
          const spread = (scores: number[]) => [Math.min(...scores), Math.max(...scores)];
          const [lo, hi] = spread(c.conceptScores);
          const [rlo, rhi] = [Math.max(0, c.randomMean - c.randomStd), Math.min(1, c.randomMean + c.randomStd)];
          return (
            <g key={c.classIndex} data-testid="tcav-bar" data-significant={c.significant ? 'yes' : 'no'}>
              <title>
                {`${c.className}: TCAV ${c.score.toFixed(2)} (runs ${lo.toFixed(2)}–${hi.toFixed(2)}) vs random ${c.randomMean.toFixed(2)} ± ${c.randomStd.toFixed(2)}; p = ${c.p.toExponential(1)}, Bonferroni ${c.pBonferroni.toExponential(1)} over ${tcav.classesTested}; ${c.inputs} inputs`}
              </title>
              <text x={LEFT - 4} y={y + BAR} className="tcav-label" textAnchor="end">
                {c.className.length > 13 ? `${c.className.slice(0, 12)}…` : c.className}
              </text>
              <rect x={x(0)} y={y} width={x(c.score) - x(0)} height={BAR} className="tcav-concept" />
              <line x1={x(lo)} x2={x(hi)} y1={y + BAR / 2} y2={y + BAR / 2} className="tcav-whisker" />
              <rect x={x(0)} y={y + BAR + 2} width={x(c.randomMean) - x(0)} height={BAR} className="tcav-random" />
              <line x1={x(rlo)} x2={x(rhi)} y1={y + BAR * 1.5 + 2} y2={y + BAR * 1.5 + 2} className="tcav-whisker" />
              <text x={x(Math.max(c.score, hi)) + 4} y={y + BAR} className={c.significant ? 'tcav-mark significant' : 'tcav-mark'} data-testid={c.significant ? 'tcav-significant' : 'tcav-not-significant'}>
                {c.significant ? '*' : 'n.s.'}
              </text>
            </g>
          );
        })}
      </svg>
      <figcaption className="small muted">
        Orange: the concept ({tcav.runs} runs, whisker: their range); grey: {tcav.runs} random concepts (mean ± std). * : p &lt; 0.05 / {tcav.classesTested}{' '}
        (Welch, Bonferroni). Held-out CAV accuracy {accuracy === null ? 'not measured' : accuracy.toFixed(2)}.
      </figcaption>
    </figure>
  );
}
