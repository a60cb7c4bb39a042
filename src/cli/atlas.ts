import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import type { ProgressEvent } from '../compute/types';
import { serializeAtlas } from '../export/atlasFile';
import { join } from 'node:path';
import { availableParallelism } from 'node:os';
import type { Atlas, AtlasParams, InputError, LayoutScale } from '../compute/atlas';
import type { RangePool } from '../compute/parallel/runner';
import type { LayoutFit } from '../compute/scaleLayout';
import { parseLayoutFit, serializeLayoutFit } from '../export/layoutFit';
import { nodeRangePool } from './rangePool';
import type { Preprocessing } from '../model/image/preprocess';
import type { StreamHooks } from '../model/recordTable';
import { layoutInNode, recordInNode, shardInputs, type NodeRecording } from './buildAtlas';
import { printNotes } from './cliText';
import { ActivationsWriter } from './npyWriter';
import { buildPrecomputedAtlasInNode, writePointsParquet } from './precomputed';
import { mergeShards, parseShard, shardFolderName, writeShard } from './shards';

const USAGE = `Build an activation atlas from the command line; writes the JSON the app opens.

  npm run atlas -- [--model default|<dir>] [--images <dir>] [--layer <name>] [--out atlas.json]
  npm run atlas -- --text <file|dir> [--model <dir>] [--layer h.1.mlp.act] [--out atlas.json]
  npm run atlas -- <as above> --shard I/N|auto [--shards N] --out <dir>   record one slice into <dir>/shard-I-of-N/
  npm run atlas -- --merge <dir> --out atlas.json                          merge every shard in <dir> and lay it out
  npm run atlas -- --activations acts.npy [--points points.parquet|.jsonl] --out atlas.json   no model: precomputed rows

  --model <dir|default>     TF.js layers or graph model folder (model.json + shards), or with --text a GPT-2
                            folder (config.json + model.safetensors, or model.safetensors.index.json + shards);
                            default: the built-in model (models/fashion-cnn, or models/text-gpt2 with --text)
  --images <dir>            image folder; sub-folders are class labels (ImageFolder); default: bundled sample
  --text <file|dir>         a .txt (one document per paragraph) or .jsonl ("text", optional "label" per line),
                            or a folder of them (sub-folders are labels): builds a text atlas
  --layer <name>            layer or graph node to record; default: the model's last spatial layer
                            (text: the middle block's MLP neurons, h.I.mlp.act)
  --samples <k|all|pooled>  positions per input: images default to pooled, text to all (every token of
                            each window but <|endoftext|>, token 0, which is never recorded)
  --method <m>              umap | tsne (this project's engines) | umap-js | tsne-js (references); default: umap
  --metric <m>              euclidean | cosine; default: euclidean
  --pca <k>                 PCA to k dims before projecting (0 = off); default: 50
  --neighbors <k>           UMAP neighbourhood size; default: 15
  --min-dist <d>            UMAP minimum distance; default: 0.1
  --perplexity <p>          t-SNE perplexity; default: 30
  --iterations <n>          UMAP epochs or t-SNE iterations; default: the engine's choice for the point count
  --grid <sizes>            grid sizes, e.g. 40 or 20,40,80,160 (default)
  --min-count <k>           drop cells with fewer points; default: 1
  --top-k <k>               top inputs kept per cell; default: 16
  --labels <file>           class names, one per line or synset_words.txt
  --preprocess <p>          unit ([0,1]) | symmetric ([-1,1]) | meanstd (ImageNet mean/std)
  --input-size <px>         input size for graph models with a dynamic size
  --seed <n>                random seed; default: 0
  --out <file|dir>          output JSON (default: atlas.json); with --shard, the folder shards go to (default: shards)
  --sample <rows>           rows kept, seeded, for the layout (the same rows for any batch size or shard count);
                            default: as many as 256 MB holds. Unit statistics and top inputs always cover every row
  --save-activations <file> also stream EVERY recorded row to a NumPy .npy (float32, rows x dim), with
                            <file>.rows.npy beside it (int32 rows x 2: the atlas's input index, position); with
                            --shard, both go into the shard folder (activations.npy, activations.rows.npy) and
                            the input index is the shard's (see its inputs.json)
  --shard <I/N|auto>        record only the I-th of N slices of the inputs (by a stable hash of each image's
                            name or each document's index); auto reads JOB_COMPLETION_INDEX (Kubernetes Indexed
                            Job), CLOUD_RUN_TASK_INDEX and CLOUD_RUN_TASK_COUNT (Cloud Run jobs) or
                            AWS_BATCH_JOB_ARRAY_INDEX (AWS Batch array jobs)
  --shards <N>              the number of shards, where the engine does not give it (Kubernetes, AWS Batch)
  --activations <file.npy>  build from precomputed activations (rows x dim; float32, float64 or float16) with no model
  --points <file>           with --activations: a .parquet or .jsonl table with one row per activation row
                            (label, text, image: a data URL or a path beside the table); default: rows named by index
  --points-out <file>       also write the atlas's points as Parquet (x, y, cell, input, position, label, text)
  --merge <dir>             merge the shard folders in <dir> (all N, one model, layer and parameters) into one
                            atlas: exact unit top inputs and statistics, the seeded sample, the layout
  --fit-sample <rows>       fit the layout on at most this many rows (a seeded sample) and place the rest into
                            it; default: 100000
  --fit-out <file>          also write the fitted layout (layout.json): what --fit needs to place more rows
  --fit <file>              place every row into this fitted layout instead of fitting one (a shard placing its
                            own rows, e.g. --activations shard-3/activations.npy, where the merge's layout
                            put them; cells bin through the fit's frame). The rows must be as wide as the fit's
  --threads <n>             threads for the recording (TF.js wasm; a GPT-2 runs a copy of the model on each),
                            the neighbour search and the placement; default: the cores available
  --list-layers             print the recordable layers and exit
`;

/** The backend a recording ran on, with its wasm threads where more than one. */
function backendLabel({ backend, wasmThreads, modelThreads }: Pick<NodeRecording, 'backend' | 'wasmThreads' | 'modelThreads'>): string {
  if (modelThreads > 1) return `backend ${backend.name} (${modelThreads} threads, a copy of the model in each)`;
  return `backend ${backend.name}${wasmThreads > 1 ? ` (${wasmThreads} threads)` : ''}`;
}

function parseSamples(value: string): 'pooled' | 'all' | number {
  if (value === 'pooled' || value === 'all') return value;
  const k = Number(value);
  if (!Number.isInteger(k) || k < 1) throw new Error(`--samples must be a positive integer, "all" or "pooled"; got "${value}".`);
  return k;
}

function number(value: string, flag: string, min: number): number {
  const v = Number(value);
  if (value.trim() === '' || !Number.isFinite(v) || v < min) throw new Error(`${flag} must be a number of at least ${min}; got "${value}".`);
  return v;
}

function integer(value: string, flag: string, min: number): number {
  const v = number(value, flag, min);
  if (!Number.isInteger(v)) throw new Error(`${flag} must be a whole number; got "${value}".`);
  return v;
}

function progressBar(event: ProgressEvent): void {
  if (!process.stderr.isTTY && event.done !== event.total) return;
  const width = 30;
  const fraction = event.total ? event.done / event.total : 1;
  const filled = Math.round(fraction * width);
  const line = `${event.stage.padEnd(8)} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${event.done}/${event.total}`;
  process.stderr.write(process.stderr.isTTY ? `\r${line}` : `${line}\n`);
  if (process.stderr.isTTY && event.done === event.total) process.stderr.write('\n');
}

function parseCli() {
  return parseArgs({
    options: {
      model: { type: 'string', default: 'default' },
      images: { type: 'string' },
      text: { type: 'string' },
      layer: { type: 'string' },
      samples: { type: 'string' },
      method: { type: 'string', default: 'umap' },
      metric: { type: 'string', default: 'euclidean' },
      pca: { type: 'string', default: '50' },
      neighbors: { type: 'string', default: '15' },
      'min-dist': { type: 'string', default: '0.1' },
      perplexity: { type: 'string', default: '30' },
      iterations: { type: 'string' },
      'top-k': { type: 'string', default: '16' },
      grid: { type: 'string', default: '20,40,80,160' },
      'min-count': { type: 'string', default: '1' },
      labels: { type: 'string' },
      preprocess: { type: 'string' },
      'input-size': { type: 'string' },
      seed: { type: 'string', default: '0' },
      out: { type: 'string' },
      'save-activations': { type: 'string' },
      sample: { type: 'string' },
      shard: { type: 'string' },
      shards: { type: 'string' },
      merge: { type: 'string' },
      activations: { type: 'string' },
      points: { type: 'string' },
      'points-out': { type: 'string' },
      'fit-sample': { type: 'string' },
      'fit-out': { type: 'string' },
      fit: { type: 'string' },
      threads: { type: 'string' },
      'list-layers': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
}

async function main(): Promise<void> {
  const { values } = parseCli();
  if (values.help) {
    process.stdout.write(USAGE);
    return;
  }
  const method = values.method as 'umap' | 'tsne' | 'umap-js' | 'tsne-js';
  if (!['umap', 'tsne', 'umap-js', 'tsne-js'].includes(method)) throw new Error(`--method must be umap, tsne, umap-js or tsne-js; got "${method}".`);
  if (!['euclidean', 'cosine'].includes(values.metric)) throw new Error(`--metric must be euclidean or cosine; got "${values.metric}".`);
  const preprocess = values.preprocess as Preprocessing['range'] | undefined;
  if (preprocess && !['unit', 'symmetric', 'meanstd'].includes(preprocess)) throw new Error(`--preprocess must be unit, symmetric or meanstd.`);
  const gridSizes = values.grid.split(',').map((g) => Number(g.trim()));
  if (gridSizes.some((g) => !Number.isInteger(g) || g < 1 || g > 1024)) throw new Error(`--grid must list grid sizes such as 20,40,80,160.`);

  if (values.text !== undefined) {
    const imageOnly = (['images', 'labels', 'preprocess', 'input-size'] as const).filter((flag) => values[flag] !== undefined);
    if (imageOnly.length) throw new Error(`${imageOnly.map((f) => `--${f}`).join(', ')} ${imageOnly.length === 1 ? 'applies' : 'apply'} to image models, not to --text.`);
  }

  if (values['list-layers']) {
    const { isTextModelArg, loadModelForCli, loadTextModelForCli } = await import('./buildAtlas');
    const { chooseBackend } = await import('../model/backend');
    await chooseBackend({ node: true });
    const text = await isTextModelArg(values.model, values.text);
    const model = text ? await loadTextModelForCli(values.model) : await loadModelForCli(values.model, { labels: values.labels });
    for (const l of model.layers) process.stdout.write(`${l.name}\t[${l.shape.join(', ')}]${l.name === model.defaultLayer ? '\t(default)' : ''}\n`);
    model.dispose();
    return;
  }

  const params = {
    method,
    metric: values.metric as 'euclidean' | 'cosine',
    pcaDims: integer(values.pca, '--pca', 0),
    seed: integer(values.seed, '--seed', Number.MIN_SAFE_INTEGER),
    nNeighbors: integer(values.neighbors, '--neighbors', 2),
    minDist: number(values['min-dist'], '--min-dist', 0),
    perplexity: number(values.perplexity, '--perplexity', 1),
    iterations: values.iterations === undefined ? null : integer(values.iterations, '--iterations', 1),
    ...(values.samples !== undefined ? { samplesPerInput: parseSamples(values.samples) } : {}),
    gridSizes,
    minCellCount: integer(values['min-count'], '--min-count', 1),
    topK: integer(values['top-k'], '--top-k', 1),
  };
  const started = performance.now();
  const threads = values.threads === undefined ? availableParallelism() : integer(values.threads, '--threads', 1);
  const pool = threads > 1 ? nodeRangePool({ threads }) : undefined;
  try {
    await run(values, params, started, pool, threads);
  } finally {
    pool?.dispose();
  }
}

type CliValues = ReturnType<typeof parseCli>['values'];

/** Everything after the flags are read: one build (a layout, a shard, a merge or precomputed rows). */
async function run(values: CliValues, params: Partial<AtlasParams>, started: number, pool: RangePool | undefined, threads: number): Promise<void> {
  const preprocess = values.preprocess as Preprocessing['range'] | undefined;
  if (values.fit !== undefined && values['fit-sample'] !== undefined) throw new Error('--fit places every row into a given fit; --fit-sample applies when fitting.');
  const fitOut = values['fit-out'];
  if (values.shard !== undefined && (values.fit !== undefined || fitOut !== undefined)) {
    throw new Error('--fit and --fit-out apply to a layout; a --shard run only records (place its saved rows with --activations and --fit).');
  }
  const scale: LayoutScale = {
    runner: pool,
    ...(values['fit-sample'] !== undefined ? { fitSample: integer(values['fit-sample'], '--fit-sample', 3) } : {}),
    ...(values.fit !== undefined ? { fit: parseLayoutFit(await readFile(values.fit, 'utf8')) } : {}),
  };
  let fitMade: LayoutFit | null = null;
  if (fitOut !== undefined) scale.onFit = (fit) => (fitMade = fit);
  const finish = async (atlas: Atlas, errors: InputError[], how: string) => {
    if (fitOut !== undefined) {
      if (!fitMade) throw new Error(`--fit-out: the ${atlas.params.method} engine lays out every row itself and leaves no fit to place rows into; use umap or tsne.`);
      await writeFile(fitOut, serializeLayoutFit(fitMade));
      process.stdout.write(`wrote ${fitOut}: the layout fitted on ${(fitMade as LayoutFit).fitted.index.n} rows, for --fit\n`);
    }
    const out = values.out ?? 'atlas.json';
    await writeFile(out, serializeAtlas(atlas));
    printNotes(atlas.notices, errors);
    if (values['points-out'] !== undefined) await writePointsParquet(atlas, values['points-out']);
    const cells = atlas.levels.map((l) => `${l.size}:${l.cells.length}`).join(' ');
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    process.stdout.write(
      `wrote ${out}: ${atlas.inputs.names.length} inputs, ${atlas.points.totalBeforeSampling} rows recorded, ${atlas.points.input.length} points ` +
        `of layer ${atlas.layer.name} (${atlas.layer.dim}-d), cells per grid ${cells}, ${how}, ${seconds} s\n`,
    );
    if (values['points-out'] !== undefined) process.stdout.write(`wrote ${values['points-out']}: ${atlas.points.input.length} points (Parquet)\n`);
  };

  if (values.activations !== undefined) {
    const modelFlags = (['model', 'images', 'text', 'layer', 'shard', 'merge', 'save-activations', 'labels', 'preprocess', 'input-size'] as const).filter(
      (flag) => flag === 'model' ? values.model !== 'default' : values[flag] !== undefined,
    );
    if (modelFlags.length) throw new Error(`${modelFlags.map((f) => `--${f}`).join(', ')} cannot go with --activations: precomputed rows need no model.`);
    const { atlas, errors } = await buildPrecomputedAtlasInNode({ activations: values.activations, points: values.points, params, onProgress: progressBar, scale });
    await finish(atlas, errors, `from ${values.activations}`);
    return;
  }
  if (values.points !== undefined) throw new Error('--points goes with --activations.');

  if (values.merge !== undefined) {
    const merged = await mergeShards(values.merge);
    const atlas = await layoutInNode(merged.recorded, merged.identity.params, progressBar, undefined, scale);
    await finish(atlas, merged.errors, `merged from ${merged.shards} shards`);
    return;
  }

  const shard = values.shard !== undefined ? parseShard(values.shard, values.shards, process.env) : undefined;
  if (shard === undefined && values.shards !== undefined) throw new Error('--shards applies with --shard auto.');
  const shardDir = values.out ?? 'shards';
  const saveTo = values['save-activations'];
  const npyPath = saveTo === undefined ? undefined : shard ? join(shardDir, `.${shardFolderName(shard)}.activations.tmp-${process.pid}.npy`) : saveTo;
  const activations = npyPath === undefined ? null : new ActivationsWriter(npyPath);
  const stream: StreamHooks = {
    ...(values.sample !== undefined ? { sampleRows: integer(values.sample, '--sample', 1) } : {}),
    ...(activations ? { onRow: activations.onRow } : {}),
  };
  if (shard && npyPath) await mkdir(shardDir, { recursive: true });
  const recording = await recordInNode({
    model: values.model,
    images: values.images,
    text: values.text,
    layer: values.layer,
    params,
    labels: values.labels,
    preprocessing: preprocess ? { range: preprocess } : undefined,
    inputSize: values['input-size'] ? integer(values['input-size'], '--input-size', 1) : undefined,
    stream,
    shard,
    threads,
    onProgress: progressBar,
  });
  const savedRows = activations?.close() ?? 0;
  const { recorded, errors } = recording;

  if (shard) {
    const extra = activations
      ? [
          { path: activations.path, name: 'activations.npy' },
          { path: activations.rowsPath, name: 'activations.rows.npy' },
        ]
      : [];
    const folder = await writeShard(
      shardDir,
      shard,
      { identity: recording.identity, state: recording.stream.state, inputs: shardInputs(recording), notices: recorded.notices, errors },
      extra,
    );
    printNotes([], errors);
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    process.stdout.write(
      `wrote ${folder}: shard ${shard.index} of ${shard.count} (${shard.engine}), ${recorded.names.length} inputs, ` +
        `${recording.stream.recorded} rows of layer ${recording.stream.layer.name}, ${backendLabel(recording)}, ${seconds} s\n`,
    );
    return;
  }
  const atlas = await layoutInNode(recorded, recording.identity.params, progressBar, undefined, scale);
  await finish(atlas, errors, backendLabel(recording));
  if (saveTo !== undefined) {
    process.stdout.write(`wrote ${saveTo}: ${savedRows} x ${atlas.layer.dim} float32 activations (every recorded row), and ${activations!.rowsPath}: each row's input and position\n`);
  }
}

main().catch((e: Error) => {
  process.stderr.write(`\nerror: ${e.message}\n`);
  process.exitCode = 1;
});
