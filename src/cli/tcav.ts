import { writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import type { Preprocessing } from '../model/image/preprocess';
import { wholeNumber } from '../lib/validate';
import { formatTcavTable, runTcav, type TcavCliOptions } from './tcavRun';

const USAGE = `Test a concept's influence on a model's classes with TCAV (Kim et al. 2018); writes JSON and prints a table.

  npm run tcav -- --model <dir> --layer <name> --concept <dir> --negatives <dir> --inputs <dir> --out tcav.json

  --model <dir>           TF.js layers or graph image model folder (model.json + shards)
  --layer <name>          layer or graph node whose pooled activation the CAVs live in
  --concept <dir>         images of the concept
  --negatives <dir>       other images: each concept run draws a random set from them, and so do the random CAVs
  --inputs <dir>          images to explain; each class is tested on the inputs predicted as that class
  --classes <auto|i,j>    auto: the (up to) 3 classes most often predicted for --inputs; or class indices
  --runs <n>              concept CAVs and random CAVs, each; default: 20
  --method <m>            mean (difference of means) | logistic (L2 logistic regression); default: mean
  --labels <file>         class names, one per line or synset_words.txt
  --preprocess <p>        unit ([0,1]) | symmetric ([-1,1]) | meanstd (ImageNet mean/std)
  --input-size <px>       input size for graph models with a dynamic size
  --seed <n>              random seed; default: 0
  --out <file>            output JSON; default: tcav.json
`;

/** Parses the command line into runTcav's options and the output path. */
export function parseTcavArgs(args: string[]): { options: TcavCliOptions; out: string } | null {
  const { values } = parseArgs({
    args,
    options: {
      model: { type: 'string' },
      layer: { type: 'string' },
      concept: { type: 'string' },
      negatives: { type: 'string' },
      inputs: { type: 'string' },
      classes: { type: 'string', default: 'auto' },
      runs: { type: 'string', default: '20' },
      method: { type: 'string', default: 'mean' },
      labels: { type: 'string' },
      preprocess: { type: 'string' },
      'input-size': { type: 'string' },
      seed: { type: 'string', default: '0' },
      out: { type: 'string', default: 'tcav.json' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) return null;
  const missing = (['model', 'layer', 'concept', 'negatives', 'inputs'] as const).filter((flag) => values[flag] === undefined);
  if (missing.length) throw new Error(`Missing ${missing.map((f) => `--${f}`).join(', ')}. Run with --help for usage.`);
  if (values.method !== 'mean' && values.method !== 'logistic') throw new Error(`--method must be mean or logistic; got "${values.method}".`);
  const preprocess = values.preprocess as Preprocessing['range'] | undefined;
  if (preprocess && !['unit', 'symmetric', 'meanstd'].includes(preprocess)) throw new Error('--preprocess must be unit, symmetric or meanstd.');
  const classes = values.classes === 'auto' ? 'auto' : [...new Set(values.classes.split(',').map((k) => wholeNumber(k.trim(), '--classes', 0)))];
  return {
    options: {
      model: values.model!,
      layer: values.layer!,
      concept: values.concept!,
      negatives: values.negatives!,
      inputs: values.inputs!,
      classes,
      runs: wholeNumber(values.runs, '--runs', 2),
      method: values.method,
      labels: values.labels,
      seed: wholeNumber(values.seed, '--seed', Number.MIN_SAFE_INTEGER),
      preprocessing: preprocess ? { range: preprocess } : undefined,
      inputSize: values['input-size'] ? wholeNumber(values['input-size'], '--input-size', 1) : undefined,
    },
    out: values.out,
  };
}

async function main(): Promise<void> {
  const parsed = parseTcavArgs(process.argv.slice(2));
  if (!parsed) {
    process.stdout.write(USAGE);
    return;
  }
  const report = await runTcav({ ...parsed.options, onStage: (message) => process.stderr.write(`${message}\n`) });
  await writeFile(parsed.out, `${JSON.stringify(report, null, 2)}\n`);
  if (report.unreadable.length) {
    process.stderr.write(`skipped ${report.unreadable.length} file(s) that could not be read:\n`);
    for (const e of report.unreadable) process.stderr.write(`  ${e.folder}: ${e.name}: ${e.reason}\n`);
  }
  process.stdout.write(formatTcavTable(report));
  process.stdout.write(`wrote ${parsed.out}\n`);
}

main().catch((e: Error) => {
  process.stderr.write(`error: ${e.message}\n`);
  process.exitCode = 1;
});
