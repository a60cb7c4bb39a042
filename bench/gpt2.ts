/**
 * GPT-2 recording benchmark: tokens per second of `Gpt2Model.record` up to one layer, per TF.js backend,
 * beside the same backend's dense matMul rate measured in the same process, so that the forward's
 * efficiency is (matmul FLOPs of the forward / time) over matMul's rate; and beside ONNX Runtime Web
 * running the same forward, exported from the same weights, on the same batch. Also peak RSS per case.
 *
 *   npm run bench:gpt2 -- [--engines tfjs,ort] [--backends wasm,cpu] [--threads 1,N] [--models builtin,small]
 *                         [--cpu-models builtin] [--batch 8] [--tokens 128] [--layer h.6.mlp.act] [--reps 3]
 *                         [--matmul-reps 3] [--matmul-rows 1024] [--seed 1] [--builtin-dir models/text-gpt2]
 *                         [--python python3]
 *
 * Models: `builtin` is models/text-gpt2/ (config.json + model.safetensors; skipped if absent), `small` a
 * GPT-2-small-shaped model (n_embd 768, 12 layers, 12 heads, vocab 50257, 1024 positions: 124M
 * parameters) with seeded random weights built in memory; `medium` the same at GPT-2 medium's shape (n_embd
 * 1024, 24 layers, 16 heads: 355M parameters), not run by default. `--layer` defaults to the middle block's
 * `h.I.mlp.act` (I = n_layer / 2) of each model. The cpu backend runs only `--cpu-models` (it is slow).
 *
 * Engines: `tfjs` is this project's recording on each of `--backends`, on N threads two ways: TF.js wasm's own
 * threads under one model (`tfjs`), and a copy of the model per thread, each batch split between them, as the CLI
 * records (`tfjs pool`, src/cli/textRecordPool.ts, loading the checkpoint's files); `ort` is ONNX Runtime Web's wasm
 * backend (bench/gpt2Ort.ts) on the graph scripts/export-gpt2-onnx.py exports (cached in bench/out/onnx/,
 * re-exported when the checkpoint or the script is newer; a seeded model's checkpoint is written once to
 * bench/out/gpt2-<model>-seed<seed>/). Each runs on every count of `--threads` (default 1 and all cores)
 * it can; ORT also prints its largest difference from our activations of the same batch.
 *
 * Each one-thread TF.js case also times generation (src/model/text/generate.ts) per token where the context holds
 * 200 tokens: with the key/value cache (Gpt2Model.extend) against recomputing the whole window.
 *
 * Each case runs in its own child process, so that peak RSS (VmHWM) is that case's own: host tensors,
 * the engine's copy of the weights and the activations. VmHWM is read before the matMul measurement,
 * which runs after the recording in the same child.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { getThreadsCount } from '@tensorflow/tfjs-backend-wasm';
import { withNodeWasmThreads } from '../src/cli/wasmThreads';
import { createRng } from '../src/lib/rng';
import { chooseBackend } from '../src/model/backend';
import { openTextRecordPool } from '../src/cli/textRecordPool';
import { disposeCache, Gpt2Model, gpt2Size, gpt2WeightShapes, isGpt2MaskBuffer } from '../src/model/text/gpt2';
import { modelForward } from '../src/model/text/recordText';
import { TextModel } from '../src/model/text/textModel';
import { type Gpt2Config, parseGpt2Config } from '../src/model/text/gpt2Config';
import { type HostTensor, readSafetensors } from '../src/model/text/safetensors';
import { type TestConfigJson, type TensorToWrite, writeSafetensors } from '../tests/model/text/checkpoints';
import type { OrtCaseResult } from './gpt2Ort';
import { type MatMulRate, matMulRate, parseArgs, peakResidentMb, positiveInteger, printTable, runChild, seededTokens } from './lib';

type ModelName = 'builtin' | 'small' | 'medium';
type Backend = 'wasm' | 'cpu';
type Engine = 'tfjs' | 'ort';
/** What a row measured: an engine, or our recording with a copy of the model per thread. */
type Measurement = Engine | 'tfjs pool';

const HERE = dirname(fileURLToPath(import.meta.url));
const DEFAULT_BUILTIN_DIR = join(HERE, '..', 'models', 'text-gpt2');
const OUT_DIR = join(HERE, 'out');
const EXPORT_SCRIPT = join(HERE, '..', 'scripts', 'export-gpt2-onnx.py');
const ORT_CHILD = join(HERE, 'gpt2Ort.ts');
const GPT2_SMALL: Gpt2Config = { nEmbd: 768, nLayer: 12, nHead: 12, nPositions: 1024, vocabSize: 50257, nInner: 3072, layerNormEpsilon: 1e-5 };
/** GPT-2 medium's shape (355M parameters), to show it loads and runs on wasm. */
const GPT2_MEDIUM: Gpt2Config = { nEmbd: 1024, nLayer: 24, nHead: 16, nPositions: 1024, vocabSize: 50257, nInner: 4096, layerNormEpsilon: 1e-5 };
/** Pythons tried, in order, for the ONNX export when `--python` is not given: a pyenv python3 on PATH may lack Debian's torch. */
const PYTHONS = ['python3', '/usr/bin/python3'];

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


/** What a TF.js child prints as its last line. */
interface CaseResult {
  buildSeconds: number;
  /** Seconds of each timed `record` + read-back of one batch. */
  recordSeconds: number[];
  cpuSeconds: number;
  peakRssMb: number;
  matmul: MatMulRate[];
  /** One thread's generation, timed where the context holds GENERATION_CONTEXT tokens; null on other cases. */
  generation: GenerationTiming | null;
}

/** Milliseconds per generated token with the key/value cache and by recomputing the whole window. */
interface GenerationTiming {
  context: number;
  cachedMs: number;
  windowMs: number;
}

/** Where generation is timed (issue 20: the cache at 200 tokens at least 5x faster than without). */
const GENERATION_CONTEXT = 200;

/**
 * Per-token time of generation at `context` tokens: with the cache, the mean of 10 one-token steps after a prompt
 * of context - 1 tokens; without, the mean of 3 forwards of the whole context-token window (the logits of its last
 * token only), each after one warm-up.
 */
function generationTiming(model: Gpt2Model, context: number, tokens: Int32Array): GenerationTiming {
  const prompt = tokens.subarray(0, context - 1);
  let { cache } = model.extend(null, prompt);
  const step = (id: number) => (cache = model.extend(cache, Int32Array.of(id)).cache);
  step(tokens[context - 1]);
  const cachedStart = performance.now();
  for (let t = 0; t < 10; t++) step(tokens[context + t]);
  const cachedMs = (performance.now() - cachedStart) / 10;
  disposeCache(cache);
  // The whole window's forward without a cache to start from, and the last token's logits only.
  const window = () => disposeCache(model.extend(null, tokens.subarray(0, context)).cache);
  window();
  const windowStart = performance.now();
  for (let r = 0; r < 3; r++) window();
  return { context, cachedMs, windowMs: (performance.now() - windowStart) / 3 };
}

/** One engine's figures on one (model, backend, threads), for the closing comparison. */
interface Measured {
  model: ModelName;
  engine: Measurement;
  backend: Backend;
  threads: number;
  tokensPerSecond: number;
  gflops: number;
  peakRssMb: number;
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

/** The token batch's seed: apart from the weights' seed, so that tokens and weights are not one random stream. */
const tokenSeed = (s: Settings) => s.seed + 7;

const middleLayer = (config: Gpt2Config) => `h.${Math.floor(config.nLayer / 2)}.mlp.act`;

const shapeLabel = (config: Gpt2Config) => `${config.nLayer}L ${config.nEmbd}d ${config.nHead}h v${config.vocabSize}`;

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

function modelConfig(name: ModelName, s: Settings): Gpt2Config {
  if (name === 'builtin') return parseGpt2Config(readFileSync(join(s.builtinDir, 'config.json'), 'utf8'));
  return name === 'medium' ? GPT2_MEDIUM : GPT2_SMALL;
}

function buildModel(name: ModelName, config: Gpt2Config, s: Settings): Gpt2Model {
  if (name === 'builtin') {
    const tensors = readSafetensors(readFileSync(join(s.builtinDir, 'model.safetensors')), { skip: isGpt2MaskBuffer, fileName: 'model.safetensors' });
    return Gpt2Model.fromTensors(config, tensors);
  }
  return Gpt2Model.fromTensors(config, randomWeights(config, s.seed));
}

/**
 * The model and what records with it: on one thread, the model itself; on several, a copy of the model per thread
 * loaded from the checkpoint's files (a seeded model's are written once, as for ORT).
 */
async function buildForward(name: ModelName, config: Gpt2Config, s: Settings, threads: number, backend: Backend) {
  if (threads === 1) {
    const model = buildModel(name, config, s);
    return { model, forward: modelForward(model), close: async () => undefined };
  }
  const dir = name === 'builtin' ? s.builtinDir : seededCheckpoint(name, config, s.seed);
  const files = ['config.json', 'model.safetensors'].map((file) => ({ name: file, bytes: new Uint8Array(readFileSync(join(dir, file))) }));
  const text = await TextModel.fromFiles(files, name);
  const pool = await openTextRecordPool(text, files, threads, backend);
  return { model: text.gpt2, forward: pool, close: () => pool.close() };
}



/**
 * TF.js child entry: build the model on the backend (wasm on `--wasm-threads`), time `record` on one batch,
 * read VmHWM, write the last batch's activations to `--save-activations` if asked, then measure matMul.
 */
async function child(args: Map<string, string>): Promise<void> {
  const backend = args.get('backend') as Backend;
  const modelName = args.get('child') as ModelName;
  const s = settingsFrom(args);
  const wasmThreads = positiveInteger(args, 'wasm-threads', 1);
  const modelThreads = positiveInteger(args, 'model-threads', 1);
  const { value: chosen, note } = await withNodeWasmThreads(backend === 'wasm' ? wasmThreads : 1, () => chooseBackend({ override: backend, node: true }));
  if (chosen.name !== backend) throw new Error(`backend ${backend} did not initialise (${chosen.reason})`);
  if (backend === 'wasm' && getThreadsCount() !== wasmThreads) throw new Error(note ?? `asked TF.js wasm for ${wasmThreads} threads, it runs ${getThreadsCount()}`);

  const config = modelConfig(modelName, s);
  const buildStart = performance.now();
  const { model, forward, close } = await buildForward(modelName, config, s, modelThreads, backend);
  const buildSeconds = (performance.now() - buildStart) / 1000;
  const batch = seededTokens(s.batch, s.tokens, config.vocabSize, tokenSeed(s));
  const recordOnce = () => forward.values(batch, s.layer ?? middleLayer(config), false);
  let last = await recordOnce();
  const recordSeconds: number[] = [];
  const cpuStart = process.cpuUsage();
  for (let r = 0; r < s.reps; r++) {
    const start = performance.now();
    last = await recordOnce();
    recordSeconds.push((performance.now() - start) / 1000);
  }
  const cpu = process.cpuUsage(cpuStart);
  const peakRssMb = peakResidentMb();
  await close();
  const onOneThread = modelThreads === 1 && (backend !== 'wasm' || wasmThreads === 1);
  const generation = onOneThread && config.nPositions >= GENERATION_CONTEXT + 10
    ? generationTiming(model, GENERATION_CONTEXT, seededTokens(1, GENERATION_CONTEXT + 10, config.vocabSize, tokenSeed(s))[0])
    : null;
  model.dispose();
  const savePath = args.get('save-activations');
  if (savePath) writeFileSync(savePath, new Uint8Array(last.buffer, last.byteOffset, last.byteLength));

  // A pool's threads record together but each runs its products on one wasm thread: no one rate stands for them.
  const rows = s.matmulRows;
  const matmul = modelThreads > 1 ? [] : [
    await matMulRate(rows, 768, 3072, s.matmulReps, s.seed),
    await matMulRate(rows, 3072, 768, s.matmulReps, s.seed),
    await matMulRate(1024, 1024, 1024, s.matmulReps, s.seed),
  ];
  const result: CaseResult = { buildSeconds, recordSeconds, cpuSeconds: (cpu.user + cpu.system) / 1e6, peakRssMb, matmul, generation };
  console.log(JSON.stringify(result));
}

/** The first of `--python`, else PYTHONS, that imports torch; or why none can export. */
function pythonWithTorch(args: Map<string, string>): { python: string } | { problem: string } {
  const candidates = args.has('python') ? [args.get('python')!] : PYTHONS;
  for (const python of candidates) {
    if (spawnSync(python, ['-c', 'import torch'], { stdio: 'ignore', timeout: 60_000 }).status === 0) return { python };
  }
  return { problem: `no Python with torch to export the ONNX graph (tried ${candidates.join(', ')}; Debian: apt-get install python3-torch)` };
}

/** Hugging Face config.json fields of a GPT-2, as the export script reads them. */
function configJson(config: Gpt2Config): TestConfigJson {
  return {
    model_type: 'gpt2',
    n_embd: config.nEmbd,
    n_layer: config.nLayer,
    n_head: config.nHead,
    n_positions: config.nPositions,
    vocab_size: config.vocabSize,
    n_inner: config.nInner,
    layer_norm_epsilon: config.layerNormEpsilon,
    activation_function: 'gelu_new',
  };
}

/**
 * The folder holding config.json + model.safetensors (F32) of a seeded model, written once under bench/out/
 * from the same `randomWeights` our child builds, so that both engines run the same weights.
 */
function seededCheckpoint(name: ModelName, config: Gpt2Config, seed: number): string {
  const dir = join(OUT_DIR, `gpt2-${name}-seed${seed}`);
  const file = join(dir, 'model.safetensors');
  if (existsSync(file)) return dir;
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'config.json'), JSON.stringify(configJson(config), null, 2));
  // Float32Array bytes are little-endian on every platform Node runs on, as safetensors stores them.
  const tensors: TensorToWrite[] = [...randomWeights(config, seed)].map(([tensorName, { shape, data }]) => ({
    name: tensorName,
    dtype: 'F32',
    shape,
    bytes: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
  }));
  writeFileSync(`${file}.partial`, writeSafetensors(tensors, { format: 'pt' }));
  renameSync(`${file}.partial`, file);
  return dir;
}

/**
 * The ONNX graph of `model` up to `layer`, exported by scripts/export-gpt2-onnx.py unless one newer than both
 * the checkpoint and the script is already in bench/out/onnx/; or why there is none.
 */
function onnxGraph(model: ModelName, config: Gpt2Config, layer: string, s: Settings, python: { python: string } | { problem: string }): { path: string } | { problem: string } {
  if ('problem' in python) return python;
  const checkpointDir = model === 'builtin' ? s.builtinDir : seededCheckpoint(model, config, s.seed);
  const path = join(OUT_DIR, 'onnx', `${basename(checkpointDir)}-${layer}.onnx`);
  const newestInput = Math.max(statSync(join(checkpointDir, 'model.safetensors')).mtimeMs, statSync(EXPORT_SCRIPT).mtimeMs);
  if (existsSync(path) && statSync(path).mtimeMs >= newestInput) return { path };
  process.stdout.write(`[prep] exporting ${model} up to ${layer} to ONNX ... `);
  const exported = spawnSync(python.python, [EXPORT_SCRIPT, '--model-dir', checkpointDir, '--layer', layer, '--out', path], { encoding: 'utf8' });
  if (exported.status !== 0) {
    const why = `${basename(EXPORT_SCRIPT)} exited ${exported.status ?? exported.signal}: ${(exported.stderr ?? '').trim().split('\n').slice(-2).join(' | ')}`;
    console.log(`failed (${why})`);
    return { problem: why };
  }
  console.log(exported.stdout.trim());
  return { path };
}

const fmt = (v: number | undefined, digits: number) => (v === undefined || !Number.isFinite(v) ? '-' : v.toFixed(digits));

/** Tokens per second and mean seconds per batch over the timed records. */
function rates(s: Settings, recordSeconds: number[]): { tokensPerSecond: number; secondsPerBatch: number; wall: number } {
  const wall = recordSeconds.reduce((a, b) => a + b, 0);
  return { tokensPerSecond: (s.batch * s.tokens * recordSeconds.length) / wall, secondsPerBatch: wall / recordSeconds.length, wall };
}

const HEADER = ['model', 'engine', 'backend', 'threads', 'params', 'shape', 'layer', 'MFLOP/token', 'tokens/s', 'ms/batch', 'GFLOP/s', 'matMul GFLOP/s', 'efficiency %', 'peak RSS MB', 'build s', 'cpu/wall', 'note'];

/** One model as every case of it is run and labelled. */
interface ModelCase {
  model: ModelName;
  config: Gpt2Config;
  layer: string;
  flopsPerToken: number;
  /** The params, shape, layer and MFLOP/token cells of its rows. */
  described: string[];
}

/** Our activations of a model's batch, written by its first TF.js case, for ORT's to be compared with. */
interface Reference {
  path: string;
  label: string;
}

/** The printed tables' rows, filled in as the cases run. */
class Report {
  readonly rows: string[][] = [];
  readonly matmulRows: string[][] = [];
  readonly generationRows: string[][] = [];
  readonly measured: Measured[] = [];

  /** A row for a case that was skipped or failed, with why. */
  unmeasured(model: string, engine: string, backend: string, threads: string, note: string): void {
    console.log(`[skip] ${model} on ${engine} ${backend}, ${threads} thread(s): ${note}`);
    this.rows.push([model, engine, backend, threads, ...HEADER.slice(4, -1).map(() => '-'), note]);
  }

  print(models: ModelName[], threadCounts: number[]): void {
    console.log('\nRecording:\n');
    printTable(HEADER, this.rows, (c) => c === 3 || (c >= 7 && c <= 15));
    if (this.matmulRows.length > 0) {
      console.log('\nDense matMul, measured in each TF.js case\'s process after its recording (efficiency uses the best row of that process):\n');
      printTable(['case', 'backend', 'threads', 'shape', 'GFLOP/s', 'reps'], this.matmulRows, (c) => c === 2 || c >= 4);
    }
    if (this.generationRows.length > 0) {
      console.log('\nGeneration, one thread, per token where the context holds the tokens shown: with the key/value cache, and recomputing the whole window:\n');
      printTable(['model', 'backend', 'context', 'cached ms/token', 'window ms/token', 'speed-up'], this.generationRows, (c) => c >= 2);
    }
    printComparison(this.measured, models, threadCounts);
  }
}

/**
 * Runs our recording of `c` on `backend` with `threads` threads in a child, as TF.js wasm threads (`tfjs`) or a copy
 * of the model per thread (`tfjs pool`); true when it ran (and wrote `savePath`, if given).
 */
async function runTfjsCase(
  c: ModelCase,
  backend: Backend,
  threads: number,
  engine: Extract<Measurement, 'tfjs' | 'tfjs pool'>,
  s: Settings,
  passOn: string[],
  savePath: string | null,
  report: Report,
): Promise<boolean> {
  process.stdout.write(`[run ] ${c.model} on ${engine} ${backend}, ${threads} thread(s) ... `);
  const split = engine === 'tfjs pool' ? ['--wasm-threads', '1', '--model-threads', `${threads}`] : ['--wasm-threads', `${threads}`];
  const result = await runChild<CaseResult>(fileURLToPath(import.meta.url), [
    ...passOn, '--child', c.model, '--backend', backend, '--layer', c.layer, ...split, ...(savePath ? ['--save-activations', savePath] : []),
  ]);
  if (!result.ok) {
    console.log(`failed (${result.error})`);
    report.unmeasured(c.model, engine, backend, `${threads}`, `failed: ${result.error}`);
    return false;
  }
  const r = result.value;
  const { tokensPerSecond, secondsPerBatch, wall } = rates(s, r.recordSeconds);
  const achieved = (c.flopsPerToken * tokensPerSecond) / 1e9;
  const best = Math.max(...r.matmul.map((m) => m.gflops));
  console.log(`${fmt(tokensPerSecond, 0)} tokens/s, ${fmt(achieved, 2)} GFLOP/s vs matMul ${fmt(best, 2)}, peak RSS ${fmt(r.peakRssMb, 0)} MB`);
  report.measured.push({ model: c.model, engine, backend, threads, tokensPerSecond, gflops: achieved, peakRssMb: r.peakRssMb });
  report.rows.push([
    c.model, engine, backend, `${threads}`, ...c.described,
    fmt(tokensPerSecond, 0), fmt(secondsPerBatch * 1000, 0), fmt(achieved, 2), fmt(best, 2), fmt(best > 0 ? (100 * achieved) / best : undefined, 1),
    fmt(r.peakRssMb, 0), fmt(r.buildSeconds, 1), fmt(r.cpuSeconds / wall, 2),
    `records ${r.recordSeconds.map((t) => t.toFixed(2)).join('/')} s`,
  ]);
  for (const m of r.matmul) report.matmulRows.push([`${c.model} ${engine}`, backend, `${threads}`, m.shape, fmt(m.gflops, 2), `${m.reps}`]);
  const g = r.generation;
  if (g) report.generationRows.push([c.model, backend, `${g.context}`, fmt(g.cachedMs, 1), fmt(g.windowMs, 1), fmt(g.windowMs / g.cachedMs, 1)]);
  return true;
}

/** Runs ONNX Runtime Web on the graph of `c` with `threads` threads in a child (bench/gpt2Ort.ts), compared with `reference` when there is one. */
async function runOrtCase(c: ModelCase, onnxPath: string, threads: number, s: Settings, reference: Reference | null, report: Report): Promise<void> {
  process.stdout.write(`[run ] ${c.model} on ort wasm, ${threads} thread(s) ... `);
  const result = await runChild<OrtCaseResult>(ORT_CHILD, [
    '--onnx', onnxPath, '--threads', `${threads}`, '--batch', `${s.batch}`, '--tokens', `${s.tokens}`, '--vocab-size', `${c.config.vocabSize}`,
    '--token-seed', `${tokenSeed(s)}`, '--reps', `${s.reps}`, ...(reference ? ['--reference', reference.path] : []),
  ]);
  if (!result.ok) {
    console.log(`failed (${result.error})`);
    report.unmeasured(c.model, 'ort', 'wasm', `${threads}`, `failed: ${result.error}`);
    return;
  }
  const r = result.value;
  const { tokensPerSecond, secondsPerBatch, wall } = rates(s, r.recordSeconds);
  const achieved = (c.flopsPerToken * tokensPerSecond) / 1e9;
  const compared = r.maxRelativeError === null || !reference
    ? 'not compared (no TF.js case ran)'
    : `max rel. error vs ${reference.label} ${r.maxRelativeError.toExponential(1)}`;
  const threadNote = r.threads === threads ? '' : `; asked for ${threads} threads, ORT ran ${r.threads}`;
  console.log(`${fmt(tokensPerSecond, 0)} tokens/s, ${fmt(achieved, 2)} GFLOP/s, peak RSS ${fmt(r.peakRssMb, 0)} MB; ${compared}`);
  report.measured.push({ model: c.model, engine: 'ort', backend: 'wasm', threads: r.threads, tokensPerSecond, gflops: achieved, peakRssMb: r.peakRssMb });
  report.rows.push([
    c.model, 'ort', 'wasm', `${r.threads}`, ...c.described,
    fmt(tokensPerSecond, 0), fmt(secondsPerBatch * 1000, 0), fmt(achieved, 2), '-', '-',
    fmt(r.peakRssMb, 0), fmt(r.sessionSeconds, 1), fmt(r.cpuSeconds / wall, 2),
    `records ${r.recordSeconds.map((t) => t.toFixed(2)).join('/')} s; ${compared}${threadNote}`,
  ]);
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  if (args.has('child')) return child(args);
  const s = settingsFrom(args);
  const engines = new Set((args.get('engines') ?? 'tfjs,ort').split(',') as Engine[]);
  const backends = (args.get('backends') ?? 'wasm,cpu').split(',') as Backend[];
  const models = (args.get('models') ?? 'builtin,small').split(',') as ModelName[];
  const cpuModels = new Set((args.get('cpu-models') ?? 'builtin').split(','));
  const threadCounts = [...new Set((args.get('threads') ?? `1,${availableParallelism()}`).split(',').map(Number))].sort((a, b) => a - b);
  if (threadCounts.some((n) => !Number.isSafeInteger(n) || n <= 0)) throw new Error(`--threads must list positive integers, got ${args.get('threads')}.`);
  const passOn = process.argv.slice(2);
  const python = engines.has('ort') ? pythonWithTorch(args) : { problem: 'not asked' };
  const referenceDir = mkdtempSync(join(tmpdir(), 'bench-gpt2-'));

  console.log(
    `GPT-2 recording benchmark: batch ${s.batch} x ${s.tokens} tokens, layer ${s.layer ?? "each model's middle h.I.mlp.act"}, ` +
      `${s.reps} timed records after 1 warm-up; matMul ${s.matmulReps}+ reps after 1 warm-up; seed ${s.seed}; ` +
      `engines ${[...engines].join(', ')}; threads ${threadCounts.join(', ')}; node ${process.version}.`,
  );
  console.log('FLOPs count matmuls only (2*M*K*N; attention q·kᵀ and softmax·v over the full square). Efficiency = achieved / best matMul rate of the same backend and process.');
  console.log("build s: our model's upload, or ORT's session creation. ORT's graph holds the weights up to the layer only; our model holds all of them.\n");

  const report = new Report();
  try {
    for (const model of models) {
      if (model === 'builtin' && !(existsSync(join(s.builtinDir, 'config.json')) && existsSync(join(s.builtinDir, 'model.safetensors')))) {
        report.unmeasured(model, [...engines].join(','), backends.join(','), '-', `skipped: ${s.builtinDir} has no config.json + model.safetensors yet (npm run train:text writes them)`);
        continue;
      }
      const config = modelConfig(model, s);
      const layer = s.layer ?? middleLayer(config);
      const flopsPerToken = forwardFlops(config, layer, s.batch, s.tokens) / (s.batch * s.tokens);
      const described = [`${(gpt2Size(config).parameters / 1e6).toFixed(1)}M`, shapeLabel(config), layer, fmt(flopsPerToken / 1e6, 2)];
      const c: ModelCase = { model, config, layer, flopsPerToken, described };
      let reference: Reference | null = null;

      for (const backend of engines.has('tfjs') ? backends : []) {
        if (backend === 'cpu' && !cpuModels.has(model)) {
          report.unmeasured(model, 'tfjs', backend, '-', 'skipped: the cpu backend is slow; add it with --cpu-models');
          continue;
        }
        // The cpu backend is single-threaded JavaScript: one row whatever --threads says. On wasm, several threads
        // run both ways: TF.js's threads under one model, and a copy of the model per thread.
        for (const threads of backend === 'wasm' ? threadCounts : [1]) {
          for (const engine of threads > 1 ? (['tfjs', 'tfjs pool'] as const) : (['tfjs'] as const)) {
            const savePath: string | null = reference ? null : join(referenceDir, `${model}.f32`);
            const ran = await runTfjsCase(c, backend, threads, engine, s, passOn, savePath, report);
            if (ran && savePath) reference = { path: savePath, label: `ours on ${backend}, ${threads} thread${threads === 1 ? '' : 's'}` };
          }
        }
      }

      if (!engines.has('ort')) continue;
      const graph = onnxGraph(model, config, layer, s, python);
      if ('problem' in graph) {
        report.unmeasured(model, 'ort', 'wasm', threadCounts.join(','), `skipped: ${graph.problem}`);
        continue;
      }
      for (const threads of threadCounts) await runOrtCase(c, graph.path, threads, s, reference, report);
    }
  } finally {
    rmSync(referenceDir, { recursive: true, force: true });
  }
  report.print(models, threadCounts);
}

/**
 * Ours (TF.js wasm) against ONNX Runtime Web per model and thread count; '-' where one side did not run (the table
 * above says why). On several threads ours is the copy of the model per thread, as the CLI records; TF.js's own
 * threads under one model are beside it.
 */
function printComparison(measured: Measured[], models: ModelName[], threadCounts: number[]): void {
  const find = (model: ModelName, engine: Measurement, threads: number) => measured.find((m) => m.model === model && m.engine === engine && m.backend === 'wasm' && m.threads === threads);
  const rows: string[][] = [];
  for (const model of models) {
    for (const threads of threadCounts) {
      const wasmThreads = find(model, 'tfjs', threads);
      const ours = threads > 1 ? find(model, 'tfjs pool', threads) : wasmThreads;
      const ort = find(model, 'ort', threads);
      if (!ours && !ort) continue;
      rows.push([
        model, `${threads}`,
        fmt(ours?.tokensPerSecond, 0), fmt(ort?.tokensPerSecond, 0), ours && ort ? fmt(ours.tokensPerSecond / ort.tokensPerSecond, 2) : '-',
        fmt(ours?.gflops, 2), fmt(ort?.gflops, 2), fmt(ours?.peakRssMb, 0), fmt(ort?.peakRssMb, 0),
        threads > 1 ? fmt(wasmThreads?.tokensPerSecond, 0) : '-',
      ]);
    }
  }
  if (rows.length === 0) return;
  console.log('\nOurs (TF.js wasm; on several threads a copy of the model per thread) vs ONNX Runtime Web (wasm), same model, batch, layer and thread count:\n');
  printTable(
    ['model', 'threads', 'ours tokens/s', 'ORT tokens/s', 'ours/ORT', 'ours GFLOP/s', 'ORT GFLOP/s', 'ours peak RSS MB', 'ORT peak RSS MB', 'ours, TF.js threads, tokens/s'],
    rows,
    (c) => c >= 1,
  );
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
