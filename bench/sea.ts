/**
 * Issue 20's sea test in one command, on the built-in GPT-2 or any other (bench/results/steer-ablate-sea-*.txt ran it
 * step by step): a concept learnt from paragraphs about the sea against paragraphs with no sea word (the built-in
 * sample's Moby-Dick, split by bench/seaTexts.ts), at each layer asked; steered (α in the layer's own unit) over
 * held-out non-sea contexts, where the test is the rise in the sea words' probability; and ablated over held-out sea
 * and non-sea texts, projected out and set to its mean (the means over the concept halves of both kinds), where the
 * test is the rise in loss, and projected out over every window of the sea texts scoring only the sea words' predictions
 * (ablate --watch). Each against 20 seeded random directions treated the same way, with the one-sided
 * prediction t-test and the empirical rank. The same core as npm run steer and npm run ablate.
 *
 *   npm run bench:sea -- [--model default|<GPT-2 folder>] [--layers h.2,h.3] [--alpha 4] [--random 20] [--seed 0]
 *
 * Writes bench/out/sea/table.json and prints the table. A pass, as the issue asks: steering beats every random
 * direction with p (t) < 0.05, and an ablation raises the loss on the sea texts likewise (and more than on the others).
 */
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ablate, type AblateOptions } from '../src/cli/ablateRun';
import { contextsFrom } from '../src/cli/directions';
import { loadTextModelForCli } from '../src/cli/buildAtlas';
import { steer } from '../src/cli/steerRun';
import type { VersusRandom } from '../src/compute/directions/stats';
import { chooseBackend } from '../src/model/backend';
import { parseArgs, positiveInteger } from './lib';
// Importing it writes the split texts into bench/out/sea/ (the script's own run), which this bench reads.
import { SEA_WORDS } from './seaTexts';

const SEA = fileURLToPath(new URL('./out/sea/', import.meta.url));
const CONTEXT_TOKENS = 64;
const STEER_CONTEXTS = 16;
const ABLATE_CONTEXTS = 32;

const args = parseArgs(process.argv.slice(2));
const modelPath = args.get('model') ?? 'default';
const layers = (args.get('layers') ?? 'h.2,h.3').split(',').map((l) => l.trim());
const alpha = Number(args.get('alpha') ?? 4);
if (!Number.isFinite(alpha)) throw new Error(`--alpha must be a number, got ${args.get('alpha')}.`);
const random = positiveInteger(args, 'random', 20);
const seed = Number(args.get('seed') ?? 0);

// The means of mean-ablation: every window of both concept halves (held in), as the sea runs took them.
mkdirSync(`${SEA}held-in`, { recursive: true });
for (const side of ['sea', 'other']) copyFileSync(`${SEA}${side}-concept.txt`, `${SEA}held-in/${side}-concept.txt`);

await chooseBackend({ node: true });
const model = await loadTextModelForCli(modelPath);
const concept = `texts:${SEA}sea-concept.txt`;
const sources = { negatives: `${SEA}other-concept.txt` };
const row = (v: VersusRandom) => ({ value: v.value, randomMean: v.randomMean, randomStd: v.randomStd, t: v.t, pT: v.pT, pRank: v.pRank });
// The sea-word test reads every window of the held-out sea texts: the sea words are 1.7% of their predictions.
const seaWindows = (await contextsFrom(`${SEA}sea-held-out.txt`, Infinity, CONTEXT_TOKENS, 'the held-out sea texts')).length;
const results = [];
try {
  for (const layer of layers) {
    const started = performance.now();
    const steered = await steer(
      { model: modelPath, layer, direction: concept, alpha, prompt: 'He looked out at the', tokens: 20, temperature: 0, topK: 0, seed, text: `${SEA}other-held-out.txt`, contexts: STEER_CONTEXTS, contextTokens: CONTEXT_TOKENS, sources, random, watch: SEA_WORDS },
      model,
    );
    const ablation = async (mode: 'project' | 'mean', texts: 'sea' | 'other', words?: 'words') => {
      const contexts = words ? seaWindows : ABLATE_CONTEXTS;
      const options: AblateOptions = { model: modelPath, layer, direction: concept, mode, random, seed, texts: `${SEA}${texts}-held-out.txt`, contexts, contextTokens: CONTEXT_TOKENS, sources, ...(words && { watch: SEA_WORDS }) };
      const report = await ablate(mode === 'mean' ? { ...options, means: `${SEA}held-in` } : options, model);
      return { predictions: report.predictions, clean: report.clean, increase: row(report.increase) };
    };
    const rise = steered.significance!;
    results.push({
      layer,
      steer: { positions: rise.positions, clean: rise.clean, steered: rise.steered, kl: steered.heldOut.klMean, continuation: steered.steered.text, rise: row(rise.rise) },
      project: { sea: await ablation('project', 'sea'), other: await ablation('project', 'other'), seaWords: await ablation('project', 'sea', 'words') },
      mean: { sea: await ablation('mean', 'sea'), other: await ablation('mean', 'other') },
      seconds: (performance.now() - started) / 1000,
    });
    process.stderr.write(`${layer}: ${results.at(-1)!.seconds.toFixed(0)} s\n`);
  }
} finally {
  model.dispose();
}

const cell = (v: ReturnType<typeof row>) => `${v.value.toExponential(2).padStart(9)}  ${v.randomMean.toExponential(2).padStart(9)} ± ${v.randomStd.toExponential(2)}  ${v.pT.toExponential(1).padStart(7)}  ${v.pRank.toFixed(3)}`;
const passes = (v: ReturnType<typeof row>) => v.pT < 0.05 && v.pRank <= 1 / (random + 1) + 1e-12;
const lines = [
  `sea concept on ${model.info.name}: α ${alpha}, ${random} random directions, seed ${seed}; words ${SEA_WORDS.join(',')}`,
  `${'layer, test'.padEnd(40)} ${'concept'.padStart(9)}  ${'random mean ± sd'.padStart(22)}  ${'p (t)'.padStart(7)}  p (rank)`,
];
for (const r of results) {
  lines.push(`${`${r.layer} steer: rise in P(sea words)`.padEnd(40)} ${cell(r.steer.rise)}${passes(r.steer.rise) ? '  pass' : ''}`);
  for (const mode of ['project', 'mean'] as const) {
    for (const texts of ['sea', 'other'] as const) {
      const v = r[mode][texts].increase;
      lines.push(`${`${r.layer} ${mode === 'project' ? 'project out' : 'set to mean'}: loss, ${texts} texts`.padEnd(40)} ${cell(v)}${texts === 'sea' && passes(v) ? '  pass' : ''}`);
    }
  }
  const words = r.project.seaWords.increase;
  lines.push(`${`${r.layer} project out: sea words, sea texts`.padEnd(40)} ${cell(words)}${passes(words) ? '  pass' : ''}`);
}
mkdirSync(SEA, { recursive: true });
writeFileSync(`${SEA}table.json`, JSON.stringify({ model: model.info.name, alpha, random, seed, words: SEA_WORDS, results }, null, 1));
process.stdout.write(`${lines.join('\n')}\nwrote bench/out/sea/table.json\n`);
