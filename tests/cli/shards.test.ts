import { execFile } from 'node:child_process';
import { cpSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { layoutInNode, recordInNode, shardInputs, type NodeAtlasOptions } from '../../src/cli/buildAtlas';
import { ActivationsWriter } from '../../src/cli/npyWriter';
import { mergeShards, parseShard, writeShard, type ShardSpec } from '../../src/cli/shards';
import { atlasToJson } from '../../src/export/atlasFile';
import { createRng } from '../../src/lib/rng';
import { tinyGpt2Files, writeCheckpointFolder } from '../model/text/tinyGpt2';
import { tempDir } from '../tempDir';

const run = promisify(execFile);
const root = new URL('../..', import.meta.url).pathname;

/** Documents of made-up words, some longer than the tiny model's context of 24 tokens (split into windows). */
function corpus(documents: number): string {
  const random = createRng(4);
  const words = ['whale', 'sea', 'ship', 'captain', 'harpoon', 'storm', 'deck', 'sail', 'oil', 'boat', 'night', 'wind'];
  const paragraphs = Array.from({ length: documents }, (_, d) =>
    Array.from({ length: 6 + Math.floor(random() * (d % 7 === 0 ? 30 : 12)) }, () => words[Math.floor(random() * words.length)]).join(' '),
  );
  const dir = tempDir('shard-corpus-');
  writeFileSync(join(dir, 'corpus.txt'), paragraphs.join('\n\n'));
  return join(dir, 'corpus.txt');
}

let model: string;
let text: string;
const params = { gridSizes: [6], iterations: 50, nNeighbors: 6, pcaDims: 8, topK: 5 };
const options = (): NodeAtlasOptions => ({ model, text, layer: 'h.1.mlp.act', params, stream: { sampleRows: 150 } });
/** An atlas's file form without its creation time, which is all two equal runs may differ in. */
const comparable = (atlas: Parameters<typeof atlasToJson>[0]) => ({ ...atlasToJson(atlas), createdAt: '' });

async function recordShard(dir: string, shard: ShardSpec, overrides: Partial<NodeAtlasOptions> = {}): Promise<void> {
  const recording = await recordInNode({ ...options(), ...overrides, shard });
  const { recorded, errors, identity, stream } = recording;
  await writeShard(dir, shard, { identity, state: stream.state, inputs: shardInputs(recording), notices: recorded.notices, errors });
}

beforeAll(() => {
  model = writeCheckpointFolder(tinyGpt2Files({ seed: 5 }));
  text = corpus(60);
});

describe('shards and their merge', () => {
  it('merges 3 shards, each run as its engine runs it, into the atlas one process makes', async () => {
    const one = await recordInNode(options());
    expect(one.recorded.table.count).toBe(150);
    expect(one.stream.recorded).toBeGreaterThan(150);
    const single = await layoutInNode(one.recorded, one.identity.params);

    const dir = tempDir('shards-');
    const cli = ['--import', 'tsx', 'src/cli/atlas.ts', '--model', model, '--text', text, '--layer', 'h.1.mlp.act', '--grid', '6', '--iterations', '50'];
    cli.push('--neighbors', '6', '--pca', '8', '--top-k', '5', '--sample', '150', '--shard', 'auto', '--out', dir);
    // One process per task, each told its index the way its engine tells it.
    const engines = [
      { JOB_COMPLETION_INDEX: '0', extra: ['--shards', '3'] },
      { CLOUD_RUN_TASK_INDEX: '1', CLOUD_RUN_TASK_COUNT: '3', extra: [] },
      { AWS_BATCH_JOB_ARRAY_INDEX: '2', extra: ['--shards', '3'] },
    ];
    const outputs = await Promise.all(
      engines.map(({ extra, ...env }) => run('node', [...cli, ...extra], { cwd: root, env: { ...process.env, ...env } }).then((r) => r.stdout)),
    );
    expect(outputs[0]).toMatch(/shard 0 of 3 \(Kubernetes Indexed Job\)/);
    expect(outputs[1]).toMatch(/shard 1 of 3 \(Cloud Run job\)/);
    expect(outputs[2]).toMatch(/shard 2 of 3 \(AWS Batch array job\)/);

    const merged = await mergeShards(dir);
    expect(merged.shards).toBe(3);
    const atlas = await layoutInNode(merged.recorded, merged.identity.params);
    expect(atlas.units!.rows).toBe(one.stream.recorded);
    expect(comparable(atlas)).toEqual(comparable(single));
    // Every shard recorded some documents, and long documents' windows stayed together.
    expect(atlas.notices.some((n) => /split into \d+ windows/.test(n))).toBe(true);
  }, 120_000);

  it('writes an empty shard for a slice with no inputs, so more shards than documents still merge', async () => {
    const few = corpus(2);
    const dir = tempDir('shards-empty-');
    for (let index = 0; index < 6; index++) await recordShard(dir, { index, count: 6 }, { text: few });
    const merged = await mergeShards(dir);
    const one = await recordInNode({ ...options(), text: few });
    expect(merged.recorded.names).toEqual(one.recorded.names);
    const [a, b] = [await layoutInNode(merged.recorded, merged.identity.params), await layoutInNode(one.recorded, one.identity.params)];
    expect(comparable(a)).toEqual(comparable(b));
  }, 60_000);

  it('refuses missing, duplicated, truncated and foreign shards by name', async () => {
    const dir = tempDir('shards-bad-');
    await recordShard(dir, { index: 0, count: 2 });
    await expect(mergeShards(dir)).rejects.toThrow(/Missing 1 of 2 shards in .*: shard-1-of-2/);

    await recordShard(dir, { index: 1, count: 2 });
    await expect(mergeShards(dir)).resolves.toMatchObject({ shards: 2 });

    cpSync(join(dir, 'shard-1-of-2'), join(dir, 'copy-of-shard-1'), { recursive: true });
    await expect(mergeShards(dir)).rejects.toThrow(/Shard 1 of 2 appears twice: .*copy-of-shard-1.* and .*shard-1-of-2|Shard 1 of 2 appears twice: .*shard-1-of-2 and .*copy-of-shard-1/);
    rmSync(join(dir, 'copy-of-shard-1'), { recursive: true });

    const state = join(dir, 'shard-1-of-2', 'state.bin');
    const bytes = readFileSync(state);
    truncateSync(state, bytes.length - 100);
    await expect(mergeShards(dir)).rejects.toThrow(/shard-1-of-2\/state.bin is .* bytes, not the .* its manifest lists: the shard is truncated/);
    writeFileSync(state, bytes);

    await recordShard(dir, { index: 1, count: 2 }, { layer: 'h.0.mlp.act' });
    await expect(mergeShards(dir)).rejects.toThrow(/shard-1-of-2 was recorded with another layer \(h.0.mlp.act against h.1.mlp.act\)/);
    await recordShard(dir, { index: 1, count: 2 }, { params: { ...params, topK: 3 } });
    await expect(mergeShards(dir)).rejects.toThrow(/was recorded with other parameters \(params:/);
    await recordShard(dir, { index: 1, count: 2 }, { model: writeCheckpointFolder(tinyGpt2Files({ seed: 6 })) });
    await expect(mergeShards(dir)).rejects.toThrow(/was recorded with another model/);
    rmSync(join(dir, 'shard-1-of-2'), { recursive: true });
    await recordShard(dir, { index: 1, count: 3 });
    await expect(mergeShards(dir)).rejects.toThrow(/is shard 1 of 3, but .* is one of 2/);
  }, 120_000);
});

describe('the streaming recorder in the CLI', () => {
  it('ranks every unit’s top contexts over every row, as a brute-force scan of the saved .npy does', async () => {
    const dir = tempDir('stream-npy-');
    const writer = new ActivationsWriter(join(dir, 'acts.npy'));
    const recording = await recordInNode({ ...options(), stream: { sampleRows: 40, onRow: writer.onRow } });
    const rows = writer.close();
    expect(rows).toBe(recording.stream.recorded);
    expect(recording.recorded.table.count).toBe(40);
    const read = (name: string) => {
      const file = readFileSync(join(dir, name));
      const headerLength = file.readUInt16LE(8);
      const shape = /'shape': \((\d+), (\d+)\)/.exec(file.subarray(10, 10 + headerLength).toString('latin1'))!.slice(1).map(Number);
      return { shape, data: file.buffer.slice(file.byteOffset + 10 + headerLength, file.byteOffset + file.length) };
    };
    const acts = read('acts.npy');
    const dim = acts.shape[1];
    expect(acts.shape[0]).toBe(rows);
    const x = new Float32Array(acts.data);
    const at = new Int32Array(read('acts.rows.npy').data);
    const { units } = await layoutInNode(recording.recorded, recording.identity.params);
    expect(units!.rows).toBe(rows);
    for (let u = 0; u < dim; u++) {
      const brute = Array.from({ length: rows }, (_, r) => [at[2 * r], at[2 * r + 1], x[r * dim + u]] as [number, number, number])
        .sort((a, b) => b[2] - a[2] || a[0] - b[0] || a[1] - b[1])
        .slice(0, params.topK);
      expect(units!.top[u]).toEqual(brute);
      const column = Array.from({ length: rows }, (_, r) => x[r * dim + u]);
      const mean = column.reduce((a, b) => a + b, 0) / rows;
      expect(units!.mean[u]).toBeCloseTo(mean, 5);
      expect(units!.max[u]).toBe(Math.max(...column));
    }
  }, 60_000);
});

describe('--shard', () => {
  it('takes the index from each engine’s variable and the count from --shards or Cloud Run', () => {
    expect(parseShard('auto', '4', { JOB_COMPLETION_INDEX: '3' })).toEqual({ index: 3, count: 4, engine: 'Kubernetes Indexed Job' });
    expect(parseShard('auto', undefined, { CLOUD_RUN_TASK_INDEX: '2', CLOUD_RUN_TASK_COUNT: '5' })).toEqual({ index: 2, count: 5, engine: 'Cloud Run job' });
    expect(parseShard('auto', '8', { AWS_BATCH_JOB_ARRAY_INDEX: '7' })).toEqual({ index: 7, count: 8, engine: 'AWS Batch array job' });
    expect(parseShard('1/3', undefined, {})).toEqual({ index: 1, count: 3, engine: 'command line' });
  });

  it('says what is missing or wrong', () => {
    expect(() => parseShard('auto', '4', {})).toThrow(/none of JOB_COMPLETION_INDEX \(Kubernetes Indexed Job\), CLOUD_RUN_TASK_INDEX \(Cloud Run job\), AWS_BATCH_JOB_ARRAY_INDEX \(AWS Batch array job\) is set/);
    expect(() => parseShard('auto', undefined, { JOB_COMPLETION_INDEX: '0' })).toThrow(/needs --shards N/);
    expect(() => parseShard('auto', '3', { CLOUD_RUN_TASK_INDEX: '0', CLOUD_RUN_TASK_COUNT: '4' })).toThrow(/--shards 3 disagrees with CLOUD_RUN_TASK_COUNT=4/);
    expect(() => parseShard('auto', '4', { AWS_BATCH_JOB_ARRAY_INDEX: '4' })).toThrow(/Shard 4 of 4 does not exist/);
    expect(() => parseShard('2-3', undefined, {})).toThrow(/--shard must be I\/N/);
  });
});
