import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const probe = fileURLToPath(new URL('./wasmThreadsProbe.ts', import.meta.url));

interface ProbeResult {
  backend: string;
  threads: number;
  note: string | null;
  values: number[][];
}

async function record(threads: number): Promise<ProbeResult> {
  const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', probe, String(threads)], { maxBuffer: 64 << 20 });
  return JSON.parse(stdout.trim().split('\n').pop()!) as ProbeResult;
}

describe('TF.js wasm threads in Node (withNodeWasmThreads)', () => {
  it('starts 2 threads, and GPT-2 records the same values on 2 threads as on one', async () => {
    const one = await record(1);
    const two = await record(2);
    expect([one.backend, two.backend]).toEqual(['wasm', 'wasm']);
    expect(one.threads).toBe(1);
    expect(two).toMatchObject({ threads: 2, note: null });
    expect(two.values).toEqual(one.values);
  }, 120_000);
});
