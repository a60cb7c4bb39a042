/**
 * Picks the "cell of whale and ship tokens" of issue 20's alternative sea direction, by a rule fixed before any
 * steering or ablation along it was measured (bench/results/steer-ablate-sea-cell-*.txt): in the atlas of h.2 over
 * the concept halves of the sea experiment (bench/seaTexts.ts; the held-out halves are not in it), at its coarsest
 * grid, among the cells of 10 or more points, the one holding the most tokens that read "whale", "whales", "ship"
 * or "ships" (any case, leading space or not); ties go to the larger share of the cell. Prints the five best cells
 * with their counts and most common tokens, then the --direction spec of the chosen one.
 *
 *   node --import tsx bench/seaCell.ts bench/out/sea/atlas-h2.json
 */
import { readFileSync } from 'node:fs';
import { parseAtlas } from '../src/export/atlasFile';
import { cellOf } from '../src/compute/grid';

const WORDS = new Set(['whale', 'whales', 'ship', 'ships']);
const MIN_POINTS = 10;

const path = process.argv[2];
if (!path) throw new Error('usage: node --import tsx bench/seaCell.ts <atlas.json>');
const atlas = parseAtlas(readFileSync(path, 'utf8'));
if (atlas.modality !== 'text') throw new Error(`${path} is not a text atlas.`);
const level = atlas.levels.reduce((a, b) => (b.size < a.size ? b : a));
const g = level.size;
const { points } = atlas;
const tokens = atlas.inputs.tokens;
const cells = new Map<string, { points: number; hits: number; tally: Map<string, number> }>();
for (let r = 0; r < points.input.length; r++) {
  const key = `${cellOf(points.layoutX[r], g)},${cellOf(points.layoutY[r], g)}`;
  const cell = cells.get(key) ?? { points: 0, hits: 0, tally: new Map<string, number>() };
  const token = tokens[points.input[r]][points.position[r]];
  cell.points++;
  if (WORDS.has(token.trim().toLowerCase())) cell.hits++;
  cell.tally.set(token, (cell.tally.get(token) ?? 0) + 1);
  cells.set(key, cell);
}
const ranked = [...cells]
  .filter(([, c]) => c.points >= MIN_POINTS)
  .sort(([, a], [, b]) => b.hits - a.hits || b.hits / b.points - a.hits / a.points);
console.log(`${path}: ${points.input.length} points of ${atlas.layer.name}, grid ${g}: ${cells.size} cells, ${ranked.length} with ${MIN_POINTS}+ points`);
for (const [key, c] of ranked.slice(0, 5)) {
  const common = [...c.tally].sort((a, b) => b[1] - a[1]).slice(0, 8).map(([t, n]) => `${JSON.stringify(t)} ${n}`);
  console.log(`  cell ${key}: ${c.points} points, ${c.hits} whale/ship tokens (${((100 * c.hits) / c.points).toFixed(0)}%); ${common.join(', ')}`);
}
if (!ranked.length || ranked[0][1].hits === 0) throw new Error('No cell holds a whale or ship token.');
console.log(`chosen: --direction cell:${ranked[0][0]} --grid ${g}`);
