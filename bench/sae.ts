/**
 * SAE training benchmark: rows per second of `trainSae` on recorded activations, the GFLOP/s of its step's matrix
 * products beside the same backend's dense matMul rate measured in the same process, and peak memory, for the
 * built-in GPT-2's `h.2.mlp.act` (over the Moby-Dick sample) and the built-in image model's default layer (conv3,
 * every position of the bundled sample's images).
 *
 *   npm run bench:sae -- [--cases gpt2,cnn] [--rows 16384] [--epochs 1] [--threads N] [--seed 0]
 *
 * Each case runs in its own child process, so that peak RSS (VmHWM) is its own: the recorded rows, the model
 * while recording, the SAE's weights and Adam's state. Latents are 8x the layer's width; k is 32 for GPT-2 and
 * 8 for the 32-wide CNN layer.
 *
 * FLOPs counted per training row: the five dIn x dSae products of the step (encoder forward, decoder forward on
 * the dense latents, the decoder's gradient, the latents' gradient, the encoder's gradient), 2 x dIn x dSae each.
 * The AuxK loss adds up to three more while latents are dead; they are not counted, so the rate is a lower bound.
 * The matMul reference is [256, dIn] x [dIn, dSae], the shape of the step's encoder product at its batch of 256.
 */
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { recordInNode } from '../src/cli/buildAtlas';
import { withNodeWasmThreads } from '../src/cli/wasmThreads';
import { chooseBackend } from '../src/model/backend';
import { trainSae } from '../src/model/sae/train';
import { matMulRate, parseArgs, peakResidentMb, positiveInteger, printTable, runChild } from './lib';

type CaseName = 'gpt2' | 'cnn';
const TEXT_SAMPLE = fileURLToPath(new URL('../public/text-sample/moby-dick-sample.jsonl', import.meta.url));
const CASES: Record<CaseName, { label: string; text?: string; layer: string; k: number }> = {
  gpt2: { label: 'built-in GPT-2 h.2.mlp.act', text: TEXT_SAMPLE, layer: 'h.2.mlp.act', k: 32 },
  cnn: { label: 'fashion-cnn conv3 (positions)', layer: 'conv3', k: 8 },
};
const STEP_PRODUCTS = 5;
const BATCH = 256;

interface CaseResult {
  backend: string;
  threads: number;
  width: number;
  latents: number;
  k: number;
  rows: number;
  epochs: number;
  recordSeconds: number;
  trainSeconds: number;
  finalFve: number;
  deadLatents: number;
  peakRssMb: number;
  stepGflops: number;
  matmulGflops: number;
}


/** Child: record the case's layer, train one SAE on its rows, measure matMul, print one JSON line. */
async function runCase(name: CaseName, rows: number, epochs: number, threads: number, seed: number): Promise<void> {
  const spec = CASES[name];
  const { value: backend, threads: wasmThreads } = await withNodeWasmThreads(threads, () => chooseBackend({ node: true }));
  const recordStart = performance.now();
  const recording = await recordInNode({
    model: 'default',
    text: spec.text,
    layer: spec.layer,
    params: { seed, samplesPerInput: 'all' },
    stream: { sampleRows: rows },
    threads: 1,
  });
  const recordSeconds = (performance.now() - recordStart) / 1000;
  const { table } = recording.recorded;
  const width = table.dim;
  const latents = 8 * width;
  const trainStart = performance.now();
  const { epochs: metrics } = await trainSae(table.values, width, { latents, k: spec.k, epochs, batchSize: BATCH, seed });
  const trainSeconds = (performance.now() - trainStart) / 1000;
  const peakRssMb = peakResidentMb();
  const flops = STEP_PRODUCTS * 2 * width * latents * table.count * epochs;
  const result: CaseResult = {
    backend: backend.name,
    threads: wasmThreads,
    width,
    latents,
    k: spec.k,
    rows: table.count,
    epochs,
    recordSeconds,
    trainSeconds,
    finalFve: metrics.at(-1)!.fve,
    deadLatents: metrics.at(-1)!.deadLatents,
    peakRssMb,
    stepGflops: flops / trainSeconds / 1e9,
    matmulGflops: (await matMulRate(BATCH, width, latents, 5, seed, 200)).gflops,
  };
  console.log(JSON.stringify(result));
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const rows = positiveInteger(args, 'rows', 16384);
  const epochs = positiveInteger(args, 'epochs', 1);
  const threads = positiveInteger(args, 'threads', availableParallelism());
  const seed = Number(args.get('seed') ?? 0);
  const child = args.get('child');
  if (child !== undefined) {
    if (!(child in CASES)) throw new Error(`Unknown case ${child}.`);
    await runCase(child as CaseName, rows, epochs, threads, seed);
    return;
  }
  const cases = (args.get('cases') ?? 'gpt2,cnn').split(',') as CaseName[];
  const unknown = cases.find((c) => !(c in CASES));
  if (unknown) throw new Error(`--cases: unknown case "${unknown}"; cases are ${Object.keys(CASES).join(', ')}.`);
  console.log(`SAE training: ${rows} rows (at most), ${epochs} epoch(s), batch ${BATCH}, latents 8x width, seed ${seed}; each case in its own process`);
  const table: string[][] = [];
  for (const name of cases) {
    const outcome = await runChild<CaseResult>(fileURLToPath(import.meta.url), ['--child', name, '--rows', String(rows), '--epochs', String(epochs), '--threads', String(threads), '--seed', String(seed)]);
    const label = CASES[name].label;
    if (!outcome.ok) {
      table.push([label, 'failed', outcome.error, ...Array<string>(9).fill('')]);
      continue;
    }
    const r = outcome.value;
    table.push([
      label,
      `${r.backend}${r.threads > 1 ? ` x${r.threads}` : ''}`,
      `${r.width} -> ${r.latents}, k ${r.k}`,
      r.rows.toLocaleString('en'),
      r.trainSeconds.toFixed(1),
      Math.round((r.rows * r.epochs) / r.trainSeconds).toLocaleString('en'),
      r.stepGflops.toFixed(1),
      r.matmulGflops.toFixed(1),
      `${((100 * r.stepGflops) / r.matmulGflops).toFixed(0)}%`,
      r.finalFve.toFixed(3),
      String(r.deadLatents),
      r.peakRssMb.toFixed(0),
    ]);
  }
  printTable(
    ['case', 'backend', 'SAE', 'rows', 'train s', 'rows/s', 'step GFLOP/s', 'matMul GFLOP/s', 'of matMul', 'FVE', 'dead', 'peak MB'],
    table,
    (c) => c >= 3,
  );
  console.log(`step GFLOP/s counts ${STEP_PRODUCTS} products of 2 x dIn x dSae per row (AuxK's extra products while latents are dead are not counted); matMul is [${BATCH}, dIn] x [dIn, dSae] alone`);
}

main().catch((e: Error) => {
  console.error(e.message);
  process.exitCode = 1;
});
