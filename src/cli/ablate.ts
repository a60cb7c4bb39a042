import { writeFile } from 'node:fs/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { chooseBackend } from '../model/backend';
import type { AblationMode } from '../model/text/ablation';
import { ablate, ABLATION_MODES, type AblateOptions } from './ablateRun';
import { loadTextModelForCli } from './buildAtlas';
import { wholeNumber } from './cliText';

const DEFAULT_TEXT = fileURLToPath(new URL('../../public/text-sample/moby-dick-sample.jsonl', import.meta.url));

const USAGE = `Ablate a direction or a unit of a GPT-2 layer: the change in next-token loss over texts, against the same
ablation of random directions (or random units), with a one-sided test that it raises the loss more.

  npm run ablate -- --layer <h.I | h.I.mlp.act | h.I.attn> --direction <spec> [options]

  --model <dir|default>   a GPT-2 folder (config.json + model.safetensors); default: the built-in model
  --direction <spec>      neuron:N | random:SEED | concept:NAME (with --atlas) | cell:I,J (with --atlas: the cell's
                          mean direction at --grid) | latent:N (with --sae: the SAE's decoder row N) |
                          texts:PATH (with --negatives: a concept learnt from the texts at PATH)
  --mode <m>              project (default): remove the component along the direction at every position,
                          x - (x.v)v, against seeded random unit directions; zero | mean: set unit N (neuron:N) to 0
                          or to its mean over the texts' positions, against seeded random other units
  --random <n>            controls ablated the same way; default: 20
  --seed <n>              the controls' seed; default: 0
  --texts <file|folder>   the texts whose loss is measured; default: the built-in model's sample
  --contexts <n>          windows of the texts read, in order; default: 32
  --context-tokens <n>    tokens per window; default: 64
  --atlas <file>          an atlas file (for concept: and cell:)
  --grid <g>              the atlas grid that cell:I,J counts in; default: its coarsest
  --sae <dir>             a SAELens folder (cfg.json + sae_weights.safetensors) for latent:N
  --negatives <file|dir>  the counterexamples of a texts:PATH concept
  --out <file>            output JSON; default: ablate.json
`;

/** The command line as ablate's options and the output path; null for --help. */
export function parseAblateArgs(args: string[]): { options: AblateOptions; out: string } | null {
  const { values } = parseArgs({
    args,
    options: {
      model: { type: 'string', default: 'default' },
      layer: { type: 'string' },
      direction: { type: 'string' },
      mode: { type: 'string', default: 'project' },
      random: { type: 'string', default: '20' },
      seed: { type: 'string', default: '0' },
      texts: { type: 'string', default: DEFAULT_TEXT },
      contexts: { type: 'string', default: '32' },
      'context-tokens': { type: 'string', default: '64' },
      atlas: { type: 'string' },
      grid: { type: 'string' },
      sae: { type: 'string' },
      negatives: { type: 'string' },
      out: { type: 'string', default: 'ablate.json' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) return null;
  const missing = (['layer', 'direction'] as const).filter((flag) => values[flag] === undefined);
  if (missing.length) throw new Error(`Missing ${missing.map((f) => `--${f}`).join(', ')}. Run with --help for usage.`);
  if (!ABLATION_MODES.includes(values.mode as AblationMode)) throw new Error(`--mode must be ${ABLATION_MODES.join(', ')}; got "${values.mode}".`);
  return {
    options: {
      model: values.model,
      layer: values.layer!,
      direction: values.direction!,
      mode: values.mode as AblationMode,
      random: wholeNumber(values.random, '--random', 2),
      seed: wholeNumber(values.seed, '--seed', 0),
      texts: values.texts,
      contexts: wholeNumber(values.contexts, '--contexts', 1),
      contextTokens: wholeNumber(values['context-tokens'], '--context-tokens', 2),
      sources: { atlas: values.atlas, grid: values.grid === undefined ? undefined : wholeNumber(values.grid, '--grid', 1), sae: values.sae, negatives: values.negatives },
    },
    out: values.out,
  };
}

async function main(): Promise<void> {
  const parsed = parseAblateArgs(process.argv.slice(2));
  if (!parsed) {
    process.stdout.write(USAGE);
    return;
  }
  await chooseBackend({ node: true });
  const model = await loadTextModelForCli(parsed.options.model);
  try {
    const report = await ablate(parsed.options, model);
    await writeFile(parsed.out, `${JSON.stringify(report, null, 2)}\n`);
    const { increase: d } = report;
    process.stdout.write(
      `${report.layer}, ${report.mode}-ablation of ${report.direction} over ${report.windows} windows (${report.predictions} predictions):\n` +
        `  loss clean ${report.clean.toFixed(4)}, ablated ${report.ablated.toFixed(4)}: increase ${d.value.toExponential(3)} nats\n` +
        `  ${report.random} ${report.controls} (seed ${report.seed}): increase ${d.randomMean.toExponential(3)} ± ${d.randomStd.toExponential(3)}\n` +
        `  larger than random: t ${d.t.toFixed(2)} (${d.df} df), one-sided p (t) ${d.pT.toExponential(2)}, p (rank) ${d.pRank.toFixed(3)}\n` +
        `wrote ${parsed.out}\n`,
    );
  } finally {
    model.dispose();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((e: Error) => {
    process.stderr.write(`error: ${e.message}\n`);
    process.exitCode = 1;
  });
}
