import { writeFile } from 'node:fs/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { chooseBackend } from '../model/backend';
import type { SteeringTest } from '../model/text/steering';
import { loadTextModelForCli } from './buildAtlas';
import { wholeNumber } from '../lib/validate';
import { conceptLine, heldOutShare, runImageCommand, significanceText } from './imageInterventions';
import { steer, steerImages, type ImageSteerOptions, type ImageSteerReport, type SteerOptions } from './steerRun';

const DEFAULT_TEXT = fileURLToPath(new URL('../../public/text-sample/moby-dick-sample.jsonl', import.meta.url));

const USAGE = `Steer a GPT-2 along a direction: generate from a prompt with and without α·v added at a layer, and
measure how the next-token distribution moves over held-out contexts.

  npm run steer -- --layer <h.I | h.I.mlp.act | h.I.attn> --direction <spec> --alpha <a> --prompt <text> [options]

  --model <dir|default>   a GPT-2 folder (config.json + model.safetensors); default: the built-in model
  --direction <spec>      neuron:N | random:SEED | concept:NAME (with --atlas) | cell:I,J (with --atlas: the cell's
                          mean direction at --grid) | latent:N (with --sae: the SAE's decoder row N) |
                          texts:PATH (with --negatives: a concept learnt from the texts at PATH, the difference of
                          the means of their token rows and the negatives') | words:W1,W2 (h.I or h.I.attn: what the
                          logits read as those words, centred on the scale's contexts; a positive control)
  --alpha <a>             strength, in units of the layer's typical activation along the direction (the root mean
                          square of x·v over the held-out texts); 0 with greedy decoding is plain generation
  --prompt <text>         the prompt
  --tokens <n>            tokens to generate; default: 50
  --temperature <t>       0 (default): greedy; above 0: seeded sampling
  --top-k <k>             sample among the k most likely tokens; default: all
  --seed <n>              the sampling's seed (the same for both continuations); default: 0
  --text <file|folder>    texts for the scale and the held-out contexts; default: the built-in model's sample
  --contexts <n>          held-out contexts (and as many more for the scale); default: 16
  --context-tokens <n>    tokens per context; default: 64
  --atlas <file>          an atlas file (for concept: and cell:)
  --grid <g>              the atlas grid that cell:I,J counts in; default: its coarsest
  --sae <dir>             a SAELens folder (cfg.json + sae_weights.safetensors) for latent:N
  --negatives <file|dir>  the counterexamples of a texts:PATH concept
  --random <n>            also steer along n seeded random directions and test whether the direction raises the
                          --watch tokens' probability over the held-out contexts more; 0 (default): no test
  --controls <alpha|norm> the random directions' vectors: alpha (default), the same α, each in its own unit; norm,
                          the same norm as the direction's vector
  --watch <words>         comma-separated words, each one token with a leading space (" sea"), for --random
  --out <file>            output JSON; default: steer.json

Image models: add α·v at every spatial position of a layer and test whether it raises a class's probability over
held-out images more than seeded random directions do (no generation, no prompt).

  npm run steer -- --images <dir|sample> --class <name> --alpha <a> [--model <dir|default>] [--layer <name>] [options]

  --model <dir|default>   a TF.js layers or graph model folder; default: the built-in CNN (models/fashion-cnn)
  --images <dir|sample>   a folder with one sub-folder of images per class (named as the model's classes), or sample:
                          the bundled Fashion-MNIST sample (for the built-in CNN)
  --labels <file>         class names, one per line or synset_words.txt, for a model without them
  --class <name>          the class whose probability is watched: a class name of the model, or its index
  --layer <name>          default: the model's default layer
  --direction <spec>      class:NAME (default: class:<--class>): the difference of the means of the layer's pooled
                          rows, the class's held-in images against the other held-in images; or neuron:N, random:SEED,
                          concept:NAME, cell:I,J (with --atlas), latent:N (with --sae)
  --alpha <a>             strength, in units of the root mean square of x·v over every position of the held-in images
  --held-out <f>          the share of the images held out and measured on; the rest learn the concept and the
                          scales; default: 0.5
  --random <n>            seeded random directions to test against; default: 20
  --controls <alpha|norm> as above
  --seed <n>              the split's and the random directions' seed; default: 0
`;

/** The command line as steer's options (for a GPT-2) or image options (with --images) and the output path; null for --help. */
export function parseSteerArgs(args: string[]): { options: SteerOptions; out: string; image?: undefined } | { image: ImageSteerOptions; out: string; options?: undefined } | null {
  const { values } = parseArgs({
    args,
    options: {
      model: { type: 'string', default: 'default' },
      layer: { type: 'string' },
      direction: { type: 'string' },
      alpha: { type: 'string' },
      prompt: { type: 'string' },
      tokens: { type: 'string', default: '50' },
      temperature: { type: 'string', default: '0' },
      'top-k': { type: 'string', default: '0' },
      seed: { type: 'string', default: '0' },
      text: { type: 'string' },
      contexts: { type: 'string', default: '16' },
      'context-tokens': { type: 'string', default: '64' },
      atlas: { type: 'string' },
      grid: { type: 'string' },
      sae: { type: 'string' },
      negatives: { type: 'string' },
      random: { type: 'string' },
      images: { type: 'string' },
      class: { type: 'string' },
      labels: { type: 'string' },
      'held-out': { type: 'string', default: '0.5' },
      watch: { type: 'string' },
      controls: { type: 'string', default: 'alpha' },
      out: { type: 'string', default: 'steer.json' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) return null;
  if (values.controls !== 'alpha' && values.controls !== 'norm') throw new Error(`--controls must be alpha or norm; got "${values.controls}".`);
  if (values.images !== undefined) {
    const missingImage = (['class', 'alpha'] as const).filter((flag) => values[flag] === undefined);
    if (missingImage.length) throw new Error(`Missing ${missingImage.map((f) => `--${f}`).join(', ')} (with --images). Run with --help for usage.`);
    const textOnly = (['prompt', 'watch', 'text', 'negatives'] as const).filter((flag) => values[flag] !== undefined);
    if (textOnly.length) throw new Error(`${textOnly.map((f) => `--${f}`).join(', ')}: for a GPT-2; with --images the effect is measured on the images' class probabilities.`);
    const alpha = Number(values.alpha);
    if (!Number.isFinite(alpha)) throw new Error(`--alpha must be a number; got "${values.alpha}".`);
    return {
      image: {
        model: values.model,
        images: values.images,
        labels: values.labels,
        className: values.class!,
        layer: values.layer,
        direction: values.direction,
        alpha,
        heldOut: heldOutShare(values['held-out']),
        random: wholeNumber(values.random ?? '20', '--random', 2),
        controls: values.controls,
        seed: wholeNumber(values.seed, '--seed', 0),
        sources: { atlas: values.atlas, grid: values.grid === undefined ? undefined : wholeNumber(values.grid, '--grid', 1), sae: values.sae },
      },
      out: values.out,
    };
  }
  if (values.class !== undefined) throw new Error('--class goes with --images (an image model); for a GPT-2 watch tokens with --watch.');
  const missing = (['layer', 'direction', 'alpha', 'prompt'] as const).filter((flag) => values[flag] === undefined);
  if (missing.length) throw new Error(`Missing ${missing.map((f) => `--${f}`).join(', ')}. Run with --help for usage.`);
  const alpha = Number(values.alpha);
  if (!Number.isFinite(alpha)) throw new Error(`--alpha must be a number; got "${values.alpha}".`);
  const temperature = Number(values.temperature);
  if (!(temperature >= 0)) throw new Error(`--temperature must be 0 or more; got "${values.temperature}".`);
  return {
    options: {
      model: values.model,
      layer: values.layer!,
      direction: values.direction!,
      alpha,
      prompt: values.prompt!,
      tokens: wholeNumber(values.tokens, '--tokens', 1),
      temperature,
      topK: wholeNumber(values['top-k'], '--top-k', 0),
      seed: wholeNumber(values.seed, '--seed', 0),
      text: values.text ?? DEFAULT_TEXT,
      contexts: wholeNumber(values.contexts, '--contexts', 1),
      contextTokens: wholeNumber(values['context-tokens'], '--context-tokens', 2),
      sources: { atlas: values.atlas, grid: values.grid === undefined ? undefined : wholeNumber(values.grid, '--grid', 1), sae: values.sae, negatives: values.negatives },
      random: wholeNumber(values.random ?? '0', '--random', 0),
      watch: values.watch?.split(',').filter((w) => w.trim() !== ''),
      controls: values.controls,
    },
    out: values.out,
  };
}

/** One line of the steering test: the direction's rise in the watched tokens' probability against the random directions'. */
function significanceLine(test: SteeringTest): string {
  const { rise } = test;
  return (
    `  P(${test.tokens.map((t) => JSON.stringify(t.text)).join(', ')}): clean ${test.clean.toExponential(3)}, steered ${test.steered.toExponential(3)}; ` +
    `rise ${rise.value.toExponential(3)} against ${test.random} random directions of the same ${test.controls === 'alpha' ? 'α' : 'norm'} ${rise.randomMean.toExponential(3)} ± ${rise.randomStd.toExponential(3)}; ` +
    `t ${rise.t.toFixed(2)}, p (t) ${rise.pT.toExponential(2)}, p (rank) ${rise.pRank.toFixed(3)}`
  );
}

/** The image report as the terminal shows it. */
export function imageSteerSummary(report: ImageSteerReport): string {
  const { significance: s, images } = report;
  const { rise } = s;
  return (
    `${report.model}, ${report.layer} along ${report.direction}, α ${report.alpha} (x ${report.scale.toPrecision(3)}), class "${report.class}":\n` +
    conceptLine(report.concept) +
    `  over ${s.images} held-out images (of ${images.count}; ${images.heldIn} held in, seed ${images.seed}): P("${report.class}") clean ${s.clean.toFixed(4)}, steered ${s.steered.toFixed(4)}\n` +
    `  rise ${rise.value.toFixed(4)} against ${s.random} random directions of the same ${s.controls === 'alpha' ? 'α' : 'norm'} ${rise.randomMean.toFixed(4)} ± ${rise.randomStd.toFixed(4)}; ` +
    `${significanceText(rise)}\n`
  );
}

async function main(): Promise<void> {
  const parsed = parseSteerArgs(process.argv.slice(2));
  if (!parsed) {
    process.stdout.write(USAGE);
    return;
  }
  await chooseBackend({ node: true });
  const { image } = parsed;
  if (image) return runImageCommand(image, parsed.out, (model) => steerImages(image, model), imageSteerSummary);
  const model = await loadTextModelForCli(parsed.options.model);
  try {
    const report = await steer(parsed.options, model);
    await writeFile(parsed.out, `${JSON.stringify(report, null, 2)}\n`);
    const { heldOut: h } = report;
    const tokens = (list: { text: string; change: number }[]) => list.slice(0, 5).map((t) => `${JSON.stringify(t.text)} ${t.change >= 0 ? '+' : ''}${t.change.toExponential(1)}`).join(', ');
    process.stdout.write(
      `${report.layer} along ${report.direction}, α ${report.alpha} (x ${report.scale.toPrecision(3)}):\n` +
        `  unsteered: ${JSON.stringify(report.unsteered.text)}\n  steered:   ${JSON.stringify(report.steered.text)}\n` +
        `  over ${h.contexts} held-out contexts (${h.positions} positions): KL ${h.klMean.toExponential(2)} nats; ` +
        `promoted ${tokens(h.promoted)}; suppressed ${tokens(h.suppressed)}\n` +
        (report.significance ? `${significanceLine(report.significance)}\n` : '') +
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
