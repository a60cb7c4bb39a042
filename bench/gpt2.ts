/**
 * GPT-2 recording benchmark: tokens per second of `Gpt2Model.record` up to one layer, per TF.js backend,
 * beside the same backend's dense matMul rate measured in the same process, so that the forward's
 * efficiency is (matmul FLOPs of the forward / time) over matMul's rate. Also peak RSS per case.
 *
 *   npm run bench:gpt2 -- [--backends wasm,cpu] [--models builtin,small] [--cpu-models builtin]
 *                         [--batch 8] [--tokens 128] [--layer h.6.mlp.act] [--reps 3]
 *                         [--matmul-reps 3] [--matmul-rows 1024] [--seed 1] [--builtin-dir models/text-gpt2]
 *
 * Models: `builtin` is models/text-gpt2/ (config.json + model.safetensors; skipped if absent), `small` a
 * GPT-2-small-shaped model (n_embd 768, 12 layers, 12 heads, vocab 50257, 1024 positions: 124M
 * parameters) with seeded random weights built in memory; `medium` the same at GPT-2 medium's shape (n_embd
 * 1024, 24 layers, 16 heads: 355M parameters), not run by default. `--layer` defaults to the middle block's
 * `h.I.mlp.act` (I = n_layer / 2) of each model. The cpu backend runs only `--cpu-models` (it is slow).
 *
 * Each (model, backend) runs in its own child process, so that peak RSS (VmHWM) is that case's own:
 * host tensors, the backend's copy of the weights and the activations. VmHWM is read before the matMul
 * measurement, which runs after the recording in the same child.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { createRng } from '../src/lib/rng';
import { chooseBackend } from '../src/model/backend';
import { Gpt2Model, gpt2Size, gpt2WeightShapes, isGpt2MaskBuffer } from '../src/model/text/gpt2';
import { type Gpt2Config, parseGpt2Config } from '../src/model/text/gpt2Config';
import { type HostTensor, readSafetensors } from '../src/model/text/safetensors';
import { parseArgs, peakResidentMb, printTable, runChild } from './lib';

type ModelName = 'builtin' | 'small' | 'medium';
type Backend = 'wasm' | 'cpu';

const HERE = dirname(fileURLToPath(import.meta.url));
const DEFAULT_BUILTIN_DIR = join(HERE, '..', 'models', 'text-gpt2');
const GPT2_SMALL: Gpt2Config = { nEmbd: 768, nLayer: 12, nHead: 12, nPositions: 1024, vocabSize: 50257, nInner: 3072, layerNormEpsilon: 1e-5 };
/** GPT-2 medium's shape (355M parameters), to show it loads and runs on wasm. */
const GPT2_MEDIUM: Gpt2Config = { nEmbd: 1024, nLayer: 24, nHead: 16, nPositions: 1024, vocabSize: 50257, nInner: 4096, layerNormEpsilon: 1e-5 };

interface Settings {
  builtinDir: string;
  batch: number;
  tokens: number;
  layer: string | null;
  reps: number;
  matmulReps: number;
  matmulRows: number;
  seed: number;
}

interface MatMulRate {
  shape: string;
  gflops: number;
  reps: number;
}

/** What a child prints as its last line. */
interface CaseResult {
  parameters: number;
  shape: string;
  layer: string;
  flopsPerToken: number;
  buildSeconds: number;
  /** Seconds of each timed `record` + read-back of one batch. */
  recordSeconds: number[];
  cpuSeconds: number;
  peakRssMb: number;
  matmul: MatMulRate[];
  threads: number | null;
}

function positiveInteger(args: Map<string, string>, key: string, fallback: number): number {
  const value = Number(args.get(key) ?? fallback);
  if (!Number.isSafeInteger(value) || value <= 0) throw new Error(`--${key} must be a positive integer, got ${args.get(key)}.`);
  return value;
}

function settingsFrom(args: Map<string, string>): Settings {
  return {
    builtinDir: args.get('builtin-dir') ?? DEFAULT_BUILTIN_DIR,
    batch: positiveInteger(args, 'batch', 8),
    tokens: positiveInteger(args, 'tokens', 128),
    layer: args.get('layer') ?? null,
    reps: positiveInteger(args, 'reps', 3),
    matmulReps: positiveInteger(args, 'matmul-reps', 3),
    matmulRows: positiveInteger(args, 'matmul-rows', 1024),
    seed: positiveInteger(args, 'seed', 1),
  };
}

const middleLayer = (config: Gpt2Config) => `h.${Math.floor(config.nLayer / 2)}.mlp.act`;

/**
 * Matmul FLOPs (2*M*K*N each) of the forward of `batch` sequences of `tokens` up to `layer`: per block the
 * fused q,k,v projection, q·kᵀ and softmax·v over the full tokens x tokens square (the masked half is
 * computed too), c_proj, then c_fc and the MLP's c_proj. LayerNorm, softmax and GELU are not counted.
 */
function forwardFlops(config: Gpt2Config, layer: string, batch: number, tokens: number): number {
  const match = /^h\.(\d+)(\.attn|\.mlp\.act)?$/.exec(layer);
  if (!match || Number(match[1]) >= config.nLayer) throw new Error(`${layer} is not a layer of this GPT-2.`);
  const last = Number(match[1]);
  const stop = match[2] === '.attn' ? 'attn' : match[2] === '.mlp.act' ? 'mlp.act' : 'resid';
  const { nEmbd: e, nInner: inner } = config;
  const rows = batch * tokens;
  const attention = 2 * rows * e * 3 * e + 2 * (2 * batch * tokens * tokens * e) + 2 * rows * e * e;
  const fc = 2 * rows * e * inner;
  const mlpProj = 2 * rows * inner * e;
  const lastBlock = attention + (stop === 'attn' ? 0 : fc + (stop === 'mlp.act' ? 0 : mlpProj));
  return last * (attention + fc + mlpProj) + lastBlock;
}

/** GPT-2-shaped weights, seeded: LayerNorm gains 1 and biases 0, every other value uniform with GPT-2's init std 0.02. */
function randomWeights(config: Gpt2Config, seed: number): Map<string, HostTensor> {
  const random = createRng(seed);
  const half = 0.02 * Math.sqrt(3);
  const tensors = new Map<string, HostTensor>();
  for (const [name, shape] of gpt2WeightShapes(config)) {
    const data = new Float32Array(shape.reduce((n, d) => n * d, 1));
    if (/ln_(1|2|f)\.weight$/.test(name)) data.fill(1);
    else if (!/ln_(1|2|f)\.bias$/.test(name)) for (let i = 0; i < data.length; i++) data[i] = (2 * random() - 1) * half;
    tensors.set(name, { shape, data });
  }
  return tensors;
}

function buildModel(name: ModelName, s: Settings): Gpt2Model {
  if (name === 'builtin') {
    const config = parseGpt2Config(readFileSync(join(s.builtinDir, 'config.json'), 'utf8'));
    const tensors = readSafetensors(readFileSync(join(s.builtinDir, 'model.safetensors')), { skip: isGpt2MaskBuffer, fileName: 'model.safetensors' });
    return Gpt2Model.fromTensors(config, tensors);
  }
  const config = name === 'medium' ? GPT2_MEDIUM : GPT2_SMALL;
  return Gpt2Model.fromTensors(config, randomWeights(config, s.seed));
}

function seededTokens(batch: number, tokens: number, vocabSize: number, seed: number): Int32Array[] {
  const random = createRng(seed);
  return Array.from({ length: batch }, () => Int32Array.from({ length: tokens }, () => Math.floor(random() * vocabSize)));
}

/** Dense matMul rate: one warm-up, then at least `minReps` products (more while under a second), each read back. */
async function matMulRate(m: number, k: number, n: number, minReps: number, seed: number): Promise<MatMulRate> {
  const a = tf.randomUniform([m, k], -1, 1, 'float32', seed);
  const b = tf.randomUniform([k, n], -1, 1, 'float32', seed + 1);
  try {
    const once = async () => {
      const product = tf.matMul(a, b);
      await product.data();
      product.dispose();
    };
    await once();
    let reps = 0;
    const start = performance.now();
    while (reps < minReps || (performance.now() - start < 1000 && reps < 20)) {
      await once();
      reps++;
    }
    const seconds = (performance.now() - start) / 1000;
    return { shape: `${m}x${k} · ${k}x${n}`, gflops: (2 * m * k * n * reps) / seconds / 1e9, reps };
  } finally {
    tf.dispose([a, b]);
  }
}

/** This process's peak resident set (VmHWM, which starts afresh at exec); maxRSS where /proc is absent. */
async function wasmThreads(backend: Backend): Promise<number | null> {
  if (backend !== 'wasm') return null;
  const { getThreadsCount } = await import('@tensorflow/tfjs-backend-wasm');
  return getThreadsCount();
}

/** Child entry: build the model on the backend, time `record` on one batch, read VmHWM, then measure matMul. */
async function child(args: Map<string, string>): Promise<void> {
  const backend = args.get('backend') as Backend;
  const modelName = args.get('child') as ModelName;
  const s = settingsFrom(args);
  const chosen = await chooseBackend({ override: backend, node: true });
  if (chosen.name !== backend) throw new Error(`backend ${backend} did not initialise (${chosen.reason})`);

  const buildStart = performance.now();
  const model = buildModel(modelName, s);
  const buildSeconds = (performance.now() - buildStart) / 1000;
  const { config } = model;
  const layer = s.layer ?? middleLayer(config);
  const batch = seededTokens(s.batch, s.tokens, config.vocabSize, s.seed + 7);
  const recordOnce = async () => {
    const activations = model.record(batch, layer);
    try {
      await activations.data();
    } finally {
      activations.dispose();
    }
  };
  await recordOnce();
  const recordSeconds: number[] = [];
  const cpuStart = process.cpuUsage();
  for (let r = 0; r < s.reps; r++) {
    const start = performance.now();
    await recordOnce();
    recordSeconds.push((performance.now() - start) / 1000);
  }
  const cpu = process.cpuUsage(cpuStart);
  const peakRssMb = peakResidentMb();
  const parameters = gpt2Size(config).parameters;
  model.dispose();

  const rows = s.matmulRows;
  const matmul = [
    await matMulRate(rows, 768, 3072, s.matmulReps, s.seed),
    await matMulRate(rows, 3072, 768, s.matmulReps, s.seed),
    await matMulRate(1024, 1024, 1024, s.matmulReps, s.seed),
  ];
  const result: CaseResult = {
    parameters,
    shape: `${config.nLayer}L ${config.nEmbd}d ${config.nHead}h v${config.vocabSize}`,
    layer,
    flopsPerToken: forwardFlops(config, layer, s.batch, s.tokens) / (s.batch * s.tokens),
    buildSeconds,
    recordSeconds,
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
    peakRssMb,
    matmul,
    threads: await wasmThreads(backend),
  };
  console.log(JSON.stringify(result));
}

async function runCase(model: ModelName, backend: Backend, argv: string[]): Promise<CaseResult | string> {
  const result = await runChild<CaseResult>(fileURLToPath(import.meta.url), [...argv, '--child', model, '--backend', backend]);
  return result.ok ? result.value : result.error;
}

const fmt = (v: number | undefined, digits: number) => (v === undefined || !Number.isFinite(v) ? '-' : v.toFixed(digits));

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  if (args.has('child')) return child(args);
  const s = settingsFrom(args);
  const backends = (args.get('backends') ?? 'wasm,cpu').split(',') as Backend[];
  const models = (args.get('models') ?? 'builtin,small').split(',') as ModelName[];
  const cpuModels = new Set((args.get('cpu-models') ?? 'builtin').split(','));
  const passOn = process.argv.slice(2);

  console.log(
    `GPT-2 recording benchmark: batch ${s.batch} x ${s.tokens} tokens, layer ${s.layer ?? "each model's middle h.I.mlp.act"}, ` +
      `${s.reps} timed records after 1 warm-up; matMul ${s.matmulReps}+ reps after 1 warm-up; seed ${s.seed}; node ${process.version}.`,
  );
  console.log('FLOPs count matmuls only (2*M*K*N; attention q·kᵀ and softmax·v over the full square). Efficiency = achieved / best matMul rate of the same backend and process.\n');

  const header = ['model', 'backend', 'params', 'shape', 'layer', 'MFLOP/token', 'tokens/s', 'ms/batch', 'GFLOP/s', 'matMul GFLOP/s', 'efficiency %', 'peak RSS MB', 'build s', 'cpu/wall', 'note'];
  const rows: string[][] = [];
  const matmulRows: string[][] = [];
  const skip = (model: string, backend: string, note: string) => {
    console.log(`[skip] ${model} on ${backend}: ${note}`);
    rows.push([model, backend, '-', '-', '-', '-', '-', '-', '-', '-', '-', '-', '-', '-', `skipped: ${note}`]);
  };
  for (const model of models) {
    if (model === 'builtin' && !(existsSync(join(s.builtinDir, 'config.json')) && existsSync(join(s.builtinDir, 'model.safetensors')))) {
      skip(model, backends.join(','), `${s.builtinDir} has no config.json + model.safetensors yet (npm run train:text writes them)`);
      continue;
    }
    for (const backend of backends) {
      if (backend === 'cpu' && !cpuModels.has(model)) {
        skip(model, backend, 'the cpu backend is slow; add it with --cpu-models');
        continue;
      }
      process.stdout.write(`[run ] ${model} on ${backend} ... `);
      const result = await runCase(model, backend, passOn);
      if (typeof result === 'string') {
        console.log(`failed (${result})`);
        rows.push([model, backend, '-', '-', '-', '-', '-', '-', '-', '-', '-', '-', '-', '-', `failed: ${result}`]);
        continue;
      }
      const wall = result.recordSeconds.reduce((a, b) => a + b, 0);
      const tokensPerSecond = (s.batch * s.tokens * result.recordSeconds.length) / wall;
      const achieved = (result.flopsPerToken * tokensPerSecond) / 1e9;
      const best = Math.max(...result.matmul.map((m) => m.gflops));
      console.log(`${fmt(tokensPerSecond, 0)} tokens/s, ${fmt(achieved, 2)} GFLOP/s vs matMul ${fmt(best, 2)}, peak RSS ${fmt(result.peakRssMb, 0)} MB`);
      const spread = `records ${result.recordSeconds.map((t) => t.toFixed(2)).join('/')} s`;
      rows.push([
        model,
        backend,
        `${(result.parameters / 1e6).toFixed(1)}M`,
        result.shape,
        result.layer,
        fmt(result.flopsPerToken / 1e6, 2),
        fmt(tokensPerSecond, 0),
        fmt((wall / result.recordSeconds.length) * 1000, 0),
        fmt(achieved, 2),
        fmt(best, 2),
        fmt((100 * achieved) / best, 1),
        fmt(result.peakRssMb, 0),
        fmt(result.buildSeconds, 1),
        fmt(result.cpuSeconds / wall, 2),
        result.threads === null ? spread : `${spread}; ${result.threads} wasm thread${result.threads === 1 ? '' : 's'}`,
      ]);
      for (const m of result.matmul) matmulRows.push([model, backend, m.shape, fmt(m.gflops, 2), `${m.reps}`]);
    }
  }
  console.log('\nRecording:\n');
  printTable(header, rows, (c) => c >= 5 && c <= 13);
  console.log('\nDense matMul, measured in each case\'s process after its recording (efficiency uses the best row of that process):\n');
  printTable(['case', 'backend', 'shape', 'GFLOP/s', 'reps'], matmulRows, (c) => c >= 3);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
