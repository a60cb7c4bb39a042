import { writeFile } from 'node:fs/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { chooseBackend } from '../model/backend';
import type { AblationMode } from '../model/text/ablation';
import { ablate, ablateImages, ABLATION_MODES, type AblateOptions, type ImageAblateOptions, type ImageAblateReport } from './ablateRun';
import { loadTextModelForCli } from './buildAtlas';
import { wholeNumber } from '../lib/validate';
import { conceptLine, heldOutShare, runImageCommand, significanceText } from './imageInterventions';

const DEFAULT_TEXT = fileURLToPath(new URL('../../public/text-sample/moby-dick-sample.jsonl', import.meta.url));

const USAGE = `Ablate a direction or a unit of a GPT-2 layer: the change in next-token loss over texts, against the same
ablation of random directions (or random units), with a one-sided test that it raises the loss more.

  npm run ablate -- --layer <h.I | h.I.mlp.act | h.I.attn> --direction <spec> [options]

  --model <dir|default>   a GPT-2 folder (config.json + model.safetensors); default: the built-in model
  --direction <spec>      neuron:N | random:SEED | concept:NAME (with --atlas) | cell:I,J (with --atlas: the cell's
                          mean direction at --grid) | latent:N (with --sae: the SAE's decoder row N) |
                          texts:PATH (with --negatives: a concept learnt from the texts at PATH) | words:W1,W2
                          (h.I or h.I.attn: what the logits read as those words, centred on --texts)
  --mode <m>              project (default): remove the component along the direction at every position,
                          x - (x.v)v, against seeded random unit directions; zero: set unit N (neuron:N) to 0, against
                          seeded random other units; mean: set unit N, or the component along any other direction,
                          to its mean over the positions of --means (x - (x.v - m)v), against random other units (for
                          a neuron) or random directions (else), each set to its own mean
  --means <file|folder>   mean mode: the texts whose positions give the means, every window read; default: --texts
  --random <n>            controls ablated the same way; default: 20
  --seed <n>              the controls' seed; default: 0
  --texts <file|folder>   the texts whose loss is measured; default: the built-in model's sample
  --watch <words>         score only the predictions of these words (comma-separated, each one token with a
                          leading space, as steer's --watch): what the direction costs the words it is about
  --contexts <n>          windows of the texts read, in order; default: 32
  --context-tokens <n>    tokens per window; default: 64
  --atlas <file>          an atlas file (for concept: and cell:)
  --grid <g>              the atlas grid that cell:I,J counts in; default: its coarsest
  --sae <dir>             a SAELens folder (cfg.json + sae_weights.safetensors) for latent:N
  --negatives <file|dir>  the counterexamples of a texts:PATH concept
  --out <file>            output JSON; default: ablate.json

Image models: ablate at every spatial position of a layer and test whether it lowers a class's accuracy over its
held-out images more than the same ablation of seeded random directions (or random units) does.

  npm run ablate -- --images <dir|sample> --class <name> [--model <dir|default>] [--layer <name>] [options]

  --model <dir|default>   a TF.js layers or graph model folder; default: the built-in CNN (models/fashion-cnn)
  --images <dir|sample>   a folder with one sub-folder of images per class (named as the model's classes), or sample:
                          the bundled Fashion-MNIST sample (for the built-in CNN)
  --labels <file>         class names, one per line or synset_words.txt, for a model without them
  --class <name>          the class whose accuracy is measured: a class name of the model, or its index
  --layer <name>          default: the model's default layer
  --direction <spec>      class:NAME (default: class:<--class>): the difference of the means of the layer's pooled
                          rows, the class's held-in images against the other held-in images; or neuron:N, random:SEED,
                          concept:NAME, cell:I,J (with --atlas), latent:N (with --sae)
  --mode <m>              project (default) | zero | mean (mean: the unit's, or the direction's component's, mean
                          over the held-in images' positions)
  --held-out <f>          the share of the images held out and measured on; default: 0.5
  --random <n>, --seed <n> as above (the seed also splits the images)
`;

/** The command line as ablate's options (for a GPT-2) or image options (with --images) and the output path; null for --help. */
export function parseAblateArgs(args: string[]): { options: AblateOptions; out: string; image?: undefined } | { image: ImageAblateOptions; out: string; options?: undefined } | null {
  const { values } = parseArgs({
    args,
    options: {
      model: { type: 'string', default: 'default' },
      layer: { type: 'string' },
      direction: { type: 'string' },
      mode: { type: 'string', default: 'project' },
      random: { type: 'string', default: '20' },
      seed: { type: 'string', default: '0' },
      texts: { type: 'string' },
      means: { type: 'string' },
      watch: { type: 'string' },
      contexts: { type: 'string', default: '32' },
      'context-tokens': { type: 'string', default: '64' },
      atlas: { type: 'string' },
      grid: { type: 'string' },
      sae: { type: 'string' },
      negatives: { type: 'string' },
      images: { type: 'string' },
      class: { type: 'string' },
      labels: { type: 'string' },
      'held-out': { type: 'string', default: '0.5' },
      out: { type: 'string', default: 'ablate.json' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) return null;
  if (!ABLATION_MODES.includes(values.mode as AblationMode)) throw new Error(`--mode must be ${ABLATION_MODES.join(', ')}; got "${values.mode}".`);
  if (values.images !== undefined) {
    if (values.class === undefined) throw new Error('Missing --class (with --images). Run with --help for usage.');
    const textOnly = (['texts', 'means', 'watch', 'negatives', 'contexts', 'context-tokens'] as const).filter((flag) => args.includes(`--${flag}`));
    if (textOnly.length) throw new Error(`${textOnly.map((f) => `--${f}`).join(', ')}: for a GPT-2; with --images the effect is measured on the images' classes.`);
    return {
      image: {
        model: values.model,
        images: values.images,
        labels: values.labels,
        className: values.class,
        layer: values.layer,
        direction: values.direction,
        mode: values.mode as AblationMode,
        heldOut: heldOutShare(values['held-out']),
        random: wholeNumber(values.random, '--random', 2),
        seed: wholeNumber(values.seed, '--seed', 0),
        sources: { atlas: values.atlas, grid: values.grid === undefined ? undefined : wholeNumber(values.grid, '--grid', 1), sae: values.sae },
      },
      out: values.out,
    };
  }
  if (values.class !== undefined) throw new Error('--class goes with --images (an image model).');
  const missing = (['layer', 'direction'] as const).filter((flag) => values[flag] === undefined);
  if (missing.length) throw new Error(`Missing ${missing.map((f) => `--${f}`).join(', ')}. Run with --help for usage.`);
  return {
    options: {
      model: values.model,
      layer: values.layer!,
      direction: values.direction!,
      mode: values.mode as AblationMode,
      random: wholeNumber(values.random, '--random', 2),
      seed: wholeNumber(values.seed, '--seed', 0),
      texts: values.texts ?? DEFAULT_TEXT,
      ...(values.means === undefined ? {} : { means: values.means }),
      ...(values.watch === undefined ? {} : { watch: values.watch.split(',').filter((w) => w.trim() !== '') }),
      contexts: wholeNumber(values.contexts, '--contexts', 1),
      contextTokens: wholeNumber(values['context-tokens'], '--context-tokens', 2),
      sources: { atlas: values.atlas, grid: values.grid === undefined ? undefined : wholeNumber(values.grid, '--grid', 1), sae: values.sae, negatives: values.negatives },
    },
    out: values.out,
  };
}

/** The image report as the terminal shows it. */
export function imageAblateSummary(report: ImageAblateReport): string {
  const { test: t, images } = report;
  const line = (what: string, d: ImageAblateReport['test']['accuracyDrop']) =>
    `  ${what} drop ${d.value.toFixed(4)} against ${t.random} ${t.controls} ${d.randomMean.toFixed(4)} ± ${d.randomStd.toFixed(4)}; ${significanceText(d)}\n`;
  return (
    `${report.model}, ${report.layer}, ${report.mode}-ablation of ${report.direction}, class "${report.class}":\n` +
    conceptLine(report.concept) +
    `  over the ${t.images} held-out images of the class (of ${images.heldOut} held out, ${images.count} in all; seed ${images.seed}): ` +
    `accuracy clean ${t.accuracy.clean.toFixed(4)}, ablated ${t.accuracy.ablated.toFixed(4)}; P("${report.class}") clean ${t.probability.clean.toFixed(4)}, ablated ${t.probability.ablated.toFixed(4)}\n` +
    line('accuracy', t.accuracyDrop) +
    line('probability', t.probabilityDrop)
  );
}

async function main(): Promise<void> {
  const parsed = parseAblateArgs(process.argv.slice(2));
  if (!parsed) {
    process.stdout.write(USAGE);
    return;
  }
  await chooseBackend({ node: true });
  const { image } = parsed;
  if (image) return runImageCommand(image, parsed.out, (model) => ablateImages(image, model), imageAblateSummary);
  const model = await loadTextModelForCli(parsed.options.model);
  try {
    const report = await ablate(parsed.options, model);
    await writeFile(parsed.out, `${JSON.stringify(report, null, 2)}\n`);
    const { increase: d } = report;
    process.stdout.write(
      `${report.layer}, ${report.mode}-ablation of ${report.direction} over ${report.windows} windows (${report.predictions} predictions${report.watch ? ` of ${report.watch.join(',')}` : ''}):\n` +
        `  loss clean ${report.clean.toFixed(4)}, ablated ${report.ablated.toFixed(4)}: increase ${d.value.toExponential(3)} nats\n` +
        `  ${report.random} ${report.controls} (seed ${report.seed}): increase ${d.randomMean.toExponential(3)} ± ${d.randomStd.toExponential(3)}\n` +
        `  larger than random: ${significanceText(d)}\n` +
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
