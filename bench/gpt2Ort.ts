/**
 * One ONNX Runtime Web case of the GPT-2 recording benchmark (bench/gpt2.ts runs it as a child process):
 * the graph that scripts/export-gpt2-onnx.py wrote, on ORT's wasm backend with `--threads` threads, fed
 * the same seeded token batch as this project's own rows. Prints one JSON line (`OrtCaseResult`).
 *
 *   node --import tsx bench/gpt2Ort.ts --onnx FILE --threads 1 --batch 8 --tokens 128 --vocab-size 50257
 *                                      --token-seed 8 --reps 3 [--reference ours.f32]
 *
 * It imports no TF.js (whose modules alone add ~90 MB of RSS), so the peak RSS is ORT's own. `--reference`
 * is our activations of the same batch (float32, row-major), written by our case of the same run; the
 * child prints the largest difference from it after the timing, to show that both engines ran one graph.
 */
import { readFileSync } from 'node:fs';
import * as ort from 'onnxruntime-web';
import { maxError } from '../tests/model/text/reference';
import { parseArgs, peakResidentMb, positiveInteger, seededTokens } from './lib';

/** What the child prints as its last line. */
export interface OrtCaseResult {
  /** Threads ORT's wasm backend was set to run, read back after the session started. */
  threads: number;
  sessionSeconds: number;
  /** Seconds of each timed `run` of one batch (the output is on the host when `run` resolves). */
  recordSeconds: number[];
  cpuSeconds: number;
  peakRssMb: number;
  /** Activations per token (the graph's output width). */
  width: number;
  /** max |ORT - ours| / max |ours| over the batch; null without `--reference`. */
  maxRelativeError: number | null;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const onnxPath = args.get('onnx');
  if (!onnxPath) throw new Error('--onnx FILE is required.');
  const batch = positiveInteger(args, 'batch');
  const tokens = positiveInteger(args, 'tokens');
  const reps = positiveInteger(args, 'reps');
  const sequences = seededTokens(batch, tokens, positiveInteger(args, 'vocab-size'), positiveInteger(args, 'token-seed'));
  const ids = new BigInt64Array(batch * tokens);
  sequences.forEach((sequence, s) => sequence.forEach((id, t) => (ids[s * tokens + t] = BigInt(id))));
  const feeds = { input_ids: new ort.Tensor('int64', ids, [batch, tokens]) };

  ort.env.wasm.numThreads = positiveInteger(args, 'threads');
  const sessionStart = performance.now();
  const session = await ort.InferenceSession.create(onnxPath, { executionProviders: ['wasm'], graphOptimizationLevel: 'all' });
  const sessionSeconds = (performance.now() - sessionStart) / 1000;
  const recordOnce = async (): Promise<{ values: Float32Array; width: number }> => {
    const { activations } = await session.run(feeds);
    const dims = activations.dims;
    if (dims.length !== 3 || dims[0] !== batch || dims[1] !== tokens) throw new Error(`The graph returned [${dims.join(', ')}], not [${batch}, ${tokens}, width].`);
    return { values: activations.data as Float32Array, width: dims[2] };
  };

  let last = await recordOnce();
  const recordSeconds: number[] = [];
  const cpuStart = process.cpuUsage();
  for (let r = 0; r < reps; r++) {
    const start = performance.now();
    last = await recordOnce();
    recordSeconds.push((performance.now() - start) / 1000);
  }
  const cpu = process.cpuUsage(cpuStart);
  const peakRssMb = peakResidentMb();
  await session.release();

  const referencePath = args.get('reference');
  let relativeError: number | null = null;
  if (referencePath) {
    const ours = new Float32Array(Uint8Array.from(readFileSync(referencePath)).buffer);
    relativeError = maxError(last.values, ours).rel;
  }
  const result: OrtCaseResult = {
    threads: ort.env.wasm.numThreads ?? 1,
    sessionSeconds,
    recordSeconds,
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
    peakRssMb,
    width: last.width,
    maxRelativeError: relativeError,
  };
  console.log(JSON.stringify(result));
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
