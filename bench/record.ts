/**
 * Recording at scale with the CLI: tokens/s and peak RSS of `npm run atlas -- --text` on prefixes of the King
 * James Bible of about 10 k, 100 k and 1 M GPT-2 tokens (the built-in text model, layer h.2.mlp.act), and the
 * largest prefix again as 2 local shards, run one after the other and at the same time, plus the merge:
 *
 *   npm run bench:record -- [--sizes 10000,100000,1000000] [--corpus /tmp/kjv.txt] [--layer h.2.mlp.act]
 *                           [--sample 20000] [--shards 2] [--tmp /tmp/bench-record]
 *
 * The corpus is written by `npm run corpus:kjv` when missing. A prefix takes whole chapters (one document each)
 * and the start of the next, cut at a token, so it holds exactly the size in tokens as the CLI tokenizes it
 * (every token is recorded; the `<|endoftext|>` each window starts with is not). Each run is a child process:
 * wall time from spawn to exit; peak RSS from GNU time (`/usr/bin/time`, the child's maxrss) or, without it,
 * VmHWM polled from /proc; the recording stage's time between the CLI's reports (progress lines on stderr) that
 * the stage before it and the recording are done, so it leaves out start-up, model loading and tokenizing.
 * tokens/s is tokens over the recording stage where it is reported, over wall time otherwise.
 * Prints a markdown table and writes the figures to bench/out/record.json.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { decode } from 'gpt-tokenizer/encoding/gpt2';
import { paragraphs } from '../src/model/text/documents';
import { encode } from '../src/model/text/tokenizer';
import { parseArgs } from './lib';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const CLI = join(ROOT, 'src/cli/atlas.ts');
const GNU_TIME = '/usr/bin/time';

interface Run {
  name: string;
  /** Tokens recorded: the rows the CLI reports it recorded (a shard's own), else the prefix's count. */
  tokens: number;
  wallSeconds: number;
  /** Seconds of the recording stage: from the CLI's report that the stage before it is done to its own, where reported. */
  recordSeconds: number | null;
  peakRssMb: number;
  exitCode: number;
  stderrTail: string;
}

/** The first `tokens` tokens of a corpus's documents: whole documents, then the start of the next cut at a token. */
export function prefixDocuments(documents: readonly string[], tokens: number): { documents: string[]; tokens: number } {
  const out: string[] = [];
  let count = 0;
  for (const doc of documents) {
    const ids = encode(doc);
    if (count + ids.length <= tokens) {
      out.push(doc);
      count += ids.length;
    } else {
      // Decoding a cut can re-tokenize a token or two differently: shorten until the re-encoded count fits.
      let keep = tokens - count;
      while (keep > 0) {
        const part = decode(Array.from(ids.subarray(0, keep))).trim();
        const n = part.length > 0 ? encode(part).length : 0;
        if (count + n <= tokens) {
          if (n > 0) out.push(part);
          count += n;
          break;
        }
        keep--;
      }
    }
    if (count >= tokens) break;
  }
  return { documents: out, tokens: count };
}

/** Runs the CLI with `args` as a child; resolves when it exits, with its time, peak RSS and recording time. */
function runCli(name: string, tokens: number, args: string[], tmp: string): Promise<Run> {
  const useTime = existsSync(GNU_TIME);
  const timeFile = join(tmp, `time-${name.replace(/\W+/g, '_')}-${process.hrtime.bigint()}.txt`);
  const node = [process.execPath, '--import', 'tsx', CLI, ...args];
  const [cmd, ...cmdArgs] = useTime ? [GNU_TIME, '-f', '%M', '-o', timeFile, ...node] : node;
  return new Promise((resolvePromise) => {
    const started = performance.now();
    const child = spawn(cmd, cmdArgs, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let recordSeconds: number | null = null;
    let lastStageDone = 0;
    let polledKb = 0;
    let stderr = '';
    let stdout = '';
    let pending = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => {
      const now = (performance.now() - started) / 1000;
      stderr += chunk.toString();
      pending += chunk.toString();
      const lines = pending.split(/[\r\n]/);
      pending = lines.pop() ?? '';
      for (const line of lines) {
        const done = /^(\w+)\s+\[#+\]\s+(\d+)\/(\d+)/.exec(line.trim());
        if (!done || done[2] !== done[3]) continue;
        if (done[1] === 'record') recordSeconds = now - lastStageDone;
        lastStageDone = now;
      }
    });
    // Without GNU time: VmHWM of the node process, polled (it only grows, so the last read is nearly the peak).
    const poll = useTime
      ? null
      : setInterval(() => {
          try {
            const m = /VmHWM:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
            if (m) polledKb = Math.max(polledKb, Number(m[1]));
          } catch {
            // The process has exited.
          }
        }, 100);
    child.on('close', (code) => {
      if (poll) clearInterval(poll);
      const wallSeconds = (performance.now() - started) / 1000;
      let peakKb = polledKb;
      if (useTime) {
        const lines = existsSync(timeFile) ? readFileSync(timeFile, 'utf8').trim().split('\n') : [];
        peakKb = Number(lines[lines.length - 1]) || 0;
        rmSync(timeFile, { force: true });
      }
      // `wrote <file>: ..., 10000 rows recorded, ...` or, for a shard, `..., 4913 rows of layer ...`.
      const rows = /\b(\d+) rows (?:recorded|of layer)\b/.exec(stdout);
      resolvePromise({
        name,
        tokens: rows ? Number(rows[1]) : tokens,
        wallSeconds,
        recordSeconds,
        peakRssMb: peakKb / 1024,
        exitCode: code ?? -1,
        stderrTail: stderr.trim().split('\n').slice(-3).join(' | '),
      });
    });
  });
}

/** Fails loudly on a run that did not succeed: a figure from a failed run is no figure. */
function check(run: Run): Run {
  if (run.exitCode !== 0) throw new Error(`${run.name} exited with ${run.exitCode}: ${run.stderrTail}`);
  return run;
}

/** The flags the CLI's --help lists, so the bench runs against the CLI as it is. */
function cliFlags(): Set<string> {
  const help = spawnSync(process.execPath, ['--import', 'tsx', CLI, '--help'], { cwd: ROOT, encoding: 'utf8' });
  return new Set([...help.stdout.matchAll(/(?:^|\s)--([a-z][\w-]*)/g)].map((m) => m[1]));
}

const fmt = (n: number, digits = 1) => n.toLocaleString('en', { minimumFractionDigits: digits, maximumFractionDigits: digits });
const fmtInt = (n: number) => Math.round(n).toLocaleString('en');

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const sizes = (args.get('sizes') ?? '10000,100000,1000000').split(',').map((s) => Number(s.trim()));
  if (sizes.some((s) => !Number.isInteger(s) || s < 1)) throw new Error('--sizes must list token counts, e.g. 10000,100000');
  const corpus = resolve(args.get('corpus') ?? '/tmp/kjv.txt');
  const layer = args.get('layer') ?? 'h.2.mlp.act';
  const sample = args.get('sample') ?? '20000';
  const shards = Number(args.get('shards') ?? '2');
  const tmp = resolve(args.get('tmp') ?? '/tmp/bench-record');
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });

  if (!existsSync(corpus)) {
    const made = spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'scripts/kjv-corpus.ts'), '--out', corpus], { cwd: ROOT, stdio: 'inherit' });
    if (made.status !== 0) throw new Error(`Could not write the corpus ${corpus} (npm run corpus:kjv).`);
  }
  const loadAtStart = loadavg()[0];
  const documents = paragraphs(readFileSync(corpus, 'utf8'));
  const flags = cliFlags();
  const canSample = flags.has('sample');
  const canShard = flags.has('shard') && flags.has('merge');
  const sampleArgs = canSample ? ['--sample', sample] : [];
  console.error(`corpus ${corpus}: ${documents.length} documents; CLI ${canSample ? 'has' : 'lacks'} --sample, ${canShard ? 'has' : 'lacks'} --shard/--merge`);

  const runs: Run[] = [];
  const prefixes = new Map<number, { file: string; tokens: number }>();
  for (const size of sizes) {
    const prefix = prefixDocuments(documents, size);
    if (prefix.tokens < size * 0.99) console.error(`the corpus holds only ${prefix.tokens} tokens: the ${size} run records them all`);
    const file = join(tmp, `kjv-${size}.txt`);
    writeFileSync(file, prefix.documents.join('\n\n') + '\n');
    prefixes.set(size, { file, tokens: prefix.tokens });
    console.error(`one process, ${fmtInt(prefix.tokens)} tokens ...`);
    const run = check(await runCli(`1 process`, prefix.tokens, ['--text', file, '--layer', layer, ...sampleArgs, '--out', join(tmp, `atlas-${size}.json`)], tmp));
    if (run.tokens !== prefix.tokens) console.error(`the CLI recorded ${run.tokens} rows of a prefix of ${prefix.tokens} tokens`);
    runs.push(run);
  }

  const largest = Math.max(...sizes);
  const shardRows: { name: string; wallSeconds: number; peakRssMb: number; tokens: number }[] = [];
  if (canShard && shards > 1) {
    const { file, tokens } = prefixes.get(largest)!;
    const shardArgs = (i: number, dir: string) => ['--text', file, '--layer', layer, ...sampleArgs, '--shard', `${i}/${shards}`, '--out', dir];
    const indices = Array.from({ length: shards }, (_, i) => i);

    const sequentialDir = join(tmp, 'shards-sequential');
    const sequential: Run[] = [];
    for (const i of indices) {
      console.error(`shard ${i}/${shards} alone ...`);
      sequential.push(check(await runCli(`shard ${i}/${shards}`, tokens, shardArgs(i, sequentialDir), tmp)));
    }
    console.error('merge ...');
    const mergeSequential = check(await runCli('merge', tokens, ['--merge', sequentialDir, '--out', join(tmp, 'atlas-merged-sequential.json')], tmp));

    const concurrentDir = join(tmp, 'shards-concurrent');
    console.error(`${shards} shards at once ...`);
    const startedTogether = performance.now();
    const concurrent = (await Promise.all(indices.map((i) => runCli(`shard ${i}/${shards} (concurrent)`, tokens, shardArgs(i, concurrentDir), tmp)))).map(check);
    const concurrentWall = (performance.now() - startedTogether) / 1000;
    const mergeConcurrent = check(await runCli('merge', tokens, ['--merge', concurrentDir, '--out', join(tmp, 'atlas-merged-concurrent.json')], tmp));

    runs.push(...sequential, mergeSequential, ...concurrent, mergeConcurrent);
    const shardRowsRecorded = sequential.reduce((n, r) => n + r.tokens, 0);
    if (shardRowsRecorded !== tokens) console.error(`the ${shards} shards recorded ${shardRowsRecorded} rows of ${tokens} tokens`);
    const single = runs.find((r) => r.tokens === tokens && r.name === '1 process')!;
    shardRows.push(
      { name: '1 process', wallSeconds: single.wallSeconds, peakRssMb: single.peakRssMb, tokens },
      {
        name: `${shards} shards one after another + merge`,
        wallSeconds: sequential.reduce((s, r) => s + r.wallSeconds, 0) + mergeSequential.wallSeconds,
        peakRssMb: Math.max(...sequential.map((r) => r.peakRssMb), mergeSequential.peakRssMb),
        tokens,
      },
      {
        name: `${shards} shards at once + merge`,
        wallSeconds: concurrentWall + mergeConcurrent.wallSeconds,
        peakRssMb: Math.max(...concurrent.map((r) => r.peakRssMb), mergeConcurrent.peakRssMb),
        tokens,
      },
    );
  } else if (shards > 1) {
    console.error('the CLI has no --shard/--merge yet: the shard runs are left out');
  }

  const cores = availableParallelism();
  const load = loadavg()[0];
  console.log(
    `\nRecording with the CLI (built-in text model, ${layer}${canSample ? `, --sample ${sample}` : ''}), Node ${process.version}, ` +
      `${cores} cores, load average ${fmt(loadAtStart, 2)} at the start and ${fmt(load, 2)} at the end, ${new Date().toISOString().slice(0, 10)}\n`,
  );
  console.log('| run | tokens | wall s | recording stage s | tokens/s | peak RSS MB |');
  console.log('| --- | ---: | ---: | ---: | ---: | ---: |');
  for (const r of runs) {
    const isMerge = r.name === 'merge';
    const seconds = r.recordSeconds ?? r.wallSeconds;
    console.log(
      `| ${r.name} | ${fmtInt(r.tokens)} | ${fmt(r.wallSeconds)} | ${r.recordSeconds === null ? '-' : fmt(r.recordSeconds)} | ${isMerge ? '-' : fmtInt(r.tokens / seconds)} | ${fmtInt(r.peakRssMb)} |`,
    );
  }
  if (shardRows.length) {
    console.log(`\n${fmtInt(shardRows[0].tokens)} tokens, one process against ${shards} local shards and the merge:\n`);
    console.log('| how | wall s | tokens/s | peak RSS MB (largest process) | against 1 process |');
    console.log('| --- | ---: | ---: | ---: | ---: |');
    for (const row of shardRows) {
      console.log(`| ${row.name} | ${fmt(row.wallSeconds)} | ${fmtInt(row.tokens / row.wallSeconds)} | ${fmtInt(row.peakRssMb)} | ${fmt(shardRows[0].wallSeconds / row.wallSeconds, 2)}x |`);
    }
  }
  const outDir = join(ROOT, 'bench/out');
  mkdirSync(outDir, { recursive: true });
  const figures = { date: new Date().toISOString(), layer, sample: canSample ? Number(sample) : null, cores, loadAverage: [loadAtStart, load], runs, shardRows };
  writeFileSync(join(outDir, 'record.json'), JSON.stringify(figures, null, 2));
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((e: Error) => {
    console.error(`error: ${e.message}`);
    process.exitCode = 1;
  });
}
