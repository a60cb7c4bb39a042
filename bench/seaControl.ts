/**
 * A positive control for issue 20's sea test on the built-in GPT-2 (bench/results/steer-ablate-sea-control-*.txt):
 * the same steering and ablation tests, the same texts, words, α, seed and 20 random directions as the sea concept's
 * run, along a direction built to move the sea words: their output direction, the mean of their rows of the tied
 * embedding wte less the mean of wte's distinct rows (the tokens the model was trained on, plus the one row the
 * unseen tokens share), at the last residual h.3 (what ln_f and the unembedding read) and at h.2 (the sea run's layer).
 * It says whether the tests can see a direction that does carry the sea words, so that the concept's failure there is
 * the concept's, not the test's. Not a learnt concept: it does not meet the issue's "Done when" by itself.
 *
 * Control b (planned after control a failed, bench/results/steer-ablate-sea-control-*.txt): centred instead on the
 * rows weighted by each token's frequency in the concept halves of the texts (what the model mostly predicts), times
 * ln_f's gain, with its mean over dimensions removed (as LayerNorm removes it); at h.3 only.
 *
 *   node --import tsx bench/seaTexts.ts && node --import tsx bench/seaControl.ts [a|b]
 */
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { contextsFrom } from '../src/cli/directions';
import { loadTextModelForCli } from '../src/cli/buildAtlas';
import { chooseBackend } from '../src/model/backend';
import { unitVector } from '../src/compute/directions/vectors';
import { ablationTest } from '../src/model/text/ablation';
import { readSafetensors } from '../src/model/text/safetensors';
import { steeringTest, watchedTokens } from '../src/model/text/steering';
import { encode } from '../src/model/text/tokenizer';
import { SEA_WORDS } from './seaTexts';

const SEA = fileURLToPath(new URL('./out/sea/', import.meta.url));
const WEIGHTS = fileURLToPath(new URL('../models/text-gpt2/model.safetensors', import.meta.url));
const LAYERS = ['h.3', 'h.2'];
const ALPHA = 4;
const RANDOM = 20;
const SEED = 0;
const CONTEXT_TOKENS = 64;

/** The sea words' output direction: the mean of their wte rows less the mean of wte's distinct rows, unit length. */
function seaOutputDirection(wte: Float32Array, width: number, ids: readonly number[]): Float32Array {
  const seen = new Set<string>();
  const centre = new Float64Array(width);
  for (let t = 0; t < wte.length / width; t++) {
    const row = wte.subarray(t * width, (t + 1) * width);
    const key = Array.from(row).join(',');
    if (seen.has(key)) continue;
    seen.add(key);
    for (let d = 0; d < width; d++) centre[d] += row[d];
  }
  const v = new Float32Array(width);
  for (const id of ids) for (let d = 0; d < width; d++) v[d] += wte[id * width + d] / ids.length;
  for (let d = 0; d < width; d++) v[d] -= centre[d] / seen.size;
  console.log(`wte: ${wte.length / width} rows, ${seen.size} distinct; ${ids.length} sea words`);
  return unitVector(v);
}

/**
 * Control b: the sea words' mean row less the frequency-weighted mean row of the tokens in `texts`, times ln_f's gain
 * `gamma`, less its mean over dimensions, unit length.
 */
function seaLogitDirection(wte: Float32Array, width: number, ids: readonly number[], texts: string, gamma: Float32Array): Float32Array {
  const tokens = encode(texts);
  const centre = new Float64Array(width);
  for (const t of tokens) for (let d = 0; d < width; d++) centre[d] += wte[t * width + d] / tokens.length;
  const v = new Float32Array(width);
  for (const id of ids) for (let d = 0; d < width; d++) v[d] += wte[id * width + d] / ids.length;
  for (let d = 0; d < width; d++) v[d] = gamma[d] * (v[d] - centre[d]);
  const mean = v.reduce((a, b) => a + b, 0) / width;
  for (let d = 0; d < width; d++) v[d] -= mean;
  console.log(`centred on ${tokens.length} tokens of the concept halves, times ln_f's gain`);
  return unitVector(v);
}

const line = (name: string, r: { value: number; randomMean: number; randomStd: number; t: number; pT: number; pRank: number }) =>
  `    ${name.padEnd(44)} ${r.value.toExponential(2).padStart(10)}   ${r.randomMean.toExponential(2)} ± ${r.randomStd.toExponential(2)}   t ${r.t.toFixed(2).padStart(6)}   p (t) ${r.pT.toExponential(2)}   p (rank) ${r.pRank.toFixed(3)}`;

await chooseBackend({ node: true });
const model = await loadTextModelForCli('default');
const width = model.gpt2.config.nEmbd;
const watched = watchedTokens(SEA_WORDS);
const control = process.argv[2] ?? 'a';
if (control !== 'a' && control !== 'b') throw new Error(`usage: bench/seaControl.ts [a|b]; got ${control}`);
const weights = readSafetensors(new Uint8Array(await readFile(WEIGHTS)));
const wte = weights.get('transformer.wte.weight')!;
const conceptTexts = (await Promise.all(['sea', 'other'].map((side) => readFile(`${SEA}${side}-concept.txt`, 'utf8')))).join('\n\n');
const direction =
  control === 'a' ? seaOutputDirection(wte.data, width, watched) : seaLogitDirection(wte.data, width, watched, conceptTexts, weights.get('transformer.ln_f.weight')!.data);
const layers = control === 'a' ? LAYERS : ['h.3'];
const steerContexts = await contextsFrom(`${SEA}other-held-out.txt`, 32, CONTEXT_TOKENS, 'steering contexts');
const ablateSea = await contextsFrom(`${SEA}sea-held-out.txt`, 32, CONTEXT_TOKENS, 'sea windows');
const ablateOther = await contextsFrom(`${SEA}other-held-out.txt`, 32, CONTEXT_TOKENS, 'non-sea windows');
for (const layer of layers) {
  const started = performance.now();
  console.log(`\n${layer}, control ${control}: the sea words' output direction, α ${ALPHA}, ${RANDOM} random directions, seed ${SEED}:`);
  const steer = await steeringTest(model.gpt2, layer, steerContexts.slice(16), direction, ALPHA, watched, {
    random: RANDOM,
    seed: SEED,
    controls: 'alpha',
    scaleWindows: steerContexts.slice(0, 16),
  });
  console.log(`  steer: P(sea words) ${steer.clean.toExponential(3)} clean -> ${steer.steered.toExponential(3)} steered over ${steer.positions} positions`);
  console.log(line('rise in P(sea words), random of the same α', steer.rise));
  for (const [name, windows] of [['held-out sea texts', ablateSea], ['held-out non-sea texts', ablateOther]] as const) {
    const test = await ablationTest(model.gpt2, layer, windows, { kind: 'direction', direction }, 'project', { random: RANDOM, seed: SEED });
    console.log(`  ablate (project out) over ${test.windows} windows of the ${name} (${test.predictions} predictions): loss ${test.clean.toFixed(4)} -> ${test.ablated.toFixed(4)}`);
    console.log(line(`loss increase, ${name}`, test.increase));
  }
  console.log(`  (${((performance.now() - started) / 1000).toFixed(0)} s)`);
}
model.dispose();
