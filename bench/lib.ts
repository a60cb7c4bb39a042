import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import { createRng } from '../src/lib/rng';

/** `--key value`, `--key=value` and bare `--flag` (true) from a command line. */
export function parseArgs(argv: string[]): Map<string, string> {
  const args = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) continue;
    const [key, inline] = a.slice(2).split('=', 2);
    if (inline !== undefined) args.set(key, inline);
    else if (i + 1 < argv.length && !argv[i + 1].startsWith('--')) args.set(key, argv[++i]);
    else args.set(key, 'true');
  }
  return args;
}

/** `--key` as a positive integer (or `fallback` when absent and one is given); throws naming the flag otherwise. */
export function positiveInteger(args: Map<string, string>, key: string, fallback?: number): number {
  const value = Number(args.get(key) ?? fallback);
  if (!Number.isSafeInteger(value) || value <= 0) throw new Error(`--${key} must be a positive integer, got ${args.get(key)}.`);
  return value;
}

/** This process's peak resident memory in MB: VmHWM on Linux (maxRSS counts the parent at fork), else maxRSS. */
export function peakResidentMb(): number {
  try {
    const match = /VmHWM:\s+(\d+)\s+kB/.exec(readFileSync('/proc/self/status', 'utf8'));
    if (match) return Number(match[1]) / 1024;
  } catch {
    // Not Linux: fall through.
  }
  return process.resourceUsage().maxRSS / 1024;
}

/** A plain-text table: the header, a rule, then the rows; columns padded, `rightAligned` ones to the right. */
export function printTable(header: string[], rows: string[][], rightAligned: (column: number) => boolean): void {
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((row) => row[c].length)));
  const line = (row: string[]) => row.map((v, c) => (rightAligned(c) ? v.padStart(widths[c]) : v.padEnd(widths[c]))).join('  ').trimEnd();
  console.log(line(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const row of rows) console.log(line(row));
}

/**
 * Runs `script` again as a child process (so its peak memory is its own) with `args`; resolves to the JSON of
 * its last stdout line, or to an error saying how it ended and the last lines of its stderr.
 */
export function runChild<T>(script: string, args: string[]): Promise<{ ok: true; value: T } | { ok: false; error: string }> {
  return new Promise((resolve) => {
    const proc = spawn(process.execPath, ['--max-old-space-size=8192', '--import', 'tsx', script, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (c) => (stdout += c));
    proc.stderr.on('data', (c) => (stderr += c));
    proc.on('close', (code) => {
      const line = stdout.trim().split('\n').pop() ?? '';
      if (code !== 0 || !line.startsWith('{')) resolve({ ok: false, error: `exit ${code}: ${stderr.trim().split('\n').slice(-3).join(' | ')}` });
      else resolve({ ok: true, value: JSON.parse(line) as T });
    });
  });
}

/** `batch` seeded token sequences of `tokens` ids below `vocabSize`: the same batch for every engine a benchmark compares. */
export function seededTokens(batch: number, tokens: number, vocabSize: number, seed: number): Int32Array[] {
  const random = createRng(seed);
  return Array.from({ length: batch }, () => Int32Array.from({ length: tokens }, () => Math.floor(random() * vocabSize)));
}

export interface MatMulRate {
  shape: string;
  gflops: number;
  reps: number;
}

/**
 * The current TF.js backend's dense matMul rate on [m, k] x [k, n]: one warm-up, then at least `minReps` products
 * (more while under a second, up to `maxReps`), each read back.
 */
export async function matMulRate(m: number, k: number, n: number, minReps: number, seed: number, maxReps = 20): Promise<MatMulRate> {
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
    while (reps < minReps || (performance.now() - start < 1000 && reps < maxReps)) {
      await once();
      reps++;
    }
    const seconds = (performance.now() - start) / 1000;
    return { shape: `${m}x${k} · ${k}x${n}`, gflops: (2 * m * k * n * reps) / seconds / 1e9, reps };
  } finally {
    tf.dispose([a, b]);
  }
}
