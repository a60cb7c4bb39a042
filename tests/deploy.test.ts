/**
 * The recipes in deploy/ run the CLI on three batch engines. Nothing here can start those engines, so the
 * files are read as text (YAML) or parsed (JSON) and held to what makes a sharded run correct: every shard
 * process runs `--shard auto`, the engine's task count equals the shard count the CLI is given, shards go to
 * the volume mounted at /shards, a merge step follows, and every flag named is one the CLI accepts.
 */
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const read = (path: string) => readFileSync(join(root, path), 'utf8');

const MERGE_ARGS = ['--merge', '/shards', '--out', '/shards/atlas.json'];

/** The documents of a YAML file, with whole-line comments removed (no YAML library: the files keep to a plain subset). */
function yamlDocuments(text: string): string[] {
  return text
    .split(/^---\s*$/m)
    .map((doc) =>
      doc
        .split('\n')
        .filter((line) => !/^\s*#/.test(line))
        .join('\n'),
    )
    .filter((doc) => doc.trim().length > 0);
}

/** Every value of `key:` in a document, as written (block style, one per line). */
function scalars(doc: string, key: string): string[] {
  return [...doc.matchAll(new RegExp(`^\\s*(?:- )?${key}:\\s*(\\S[^\\n]*?)\\s*$`, 'gm'))].map((m) => m[1]);
}

/** The one value of `key:` in a document; fails when it is missing or given twice. */
function scalar(doc: string, key: string): string {
  const values = scalars(doc, key);
  expect(values, `${key}: exactly once`).toHaveLength(1);
  return values[0];
}

/** Each container's `args:`, written as a flow sequence of double-quoted strings (which is JSON). */
function containerArgs(doc: string): string[][] {
  const lines = scalars(doc, 'args');
  return lines.map((line) => {
    expect(line, 'args are written as a flow sequence ["--flag", "value"]').toMatch(/^\[.*\]$/);
    return JSON.parse(line) as string[];
  });
}

/** The value after `flag` in an argument list, or undefined. */
function flagValue(args: readonly string[], flag: string): string | undefined {
  const at = args.indexOf(flag);
  return at >= 0 ? args[at + 1] : undefined;
}

/** A resource's `metadata.name`. */
const jobName = (doc: string) => /^metadata:\s*\n\s+name:\s*(\S+)/m.exec(doc)?.[1];

/** The documents of a file whose `kind:` is `kind`. */
const ofKind = (docs: string[], kind: string) => docs.filter((doc) => scalars(doc, 'kind')[0] === kind);

/** The flags `npm run atlas` accepts: the keys of its node:util parseArgs options table. */
function atlasFlags(): Set<string> {
  const text = read('src/cli/atlas.ts');
  const table = /parseArgs\(\{\s*(?:args:[^,]*,\s*)?options:\s*\{/.exec(text);
  if (!table) throw new Error('src/cli/atlas.ts has no parseArgs options table');
  return new Set([...text.slice(table.index).matchAll(/(?:'([a-z][\w-]*)'|\b([a-z]\w*))\s*:\s*\{\s*type\s*:/g)].map((m) => m[1] ?? m[2]));
}

function expectFlagsKnown(args: readonly string[]): void {
  const known = atlasFlags();
  const unknown = args.filter((a) => a.startsWith('--')).filter((a) => !known.has(a.slice(2)));
  expect(unknown, 'flags that src/cli/atlas.ts does not accept').toEqual([]);
}

/** Volume mounts as `{ name: x, mountPath: /y ... }` or block style `- name: x` / `mountPath: /y`. */
function mountPaths(doc: string): string[] {
  return [...doc.matchAll(/mountPath:\s*([^\s,}]+)/g)].map((m) => m[1]);
}

describe('deploy/kubernetes/indexed-job.yaml', () => {
  const docs = yamlDocuments(read('deploy/kubernetes/indexed-job.yaml'));
  const jobs = ofKind(docs, 'Job');
  const record = jobs.find((doc) => scalars(doc, 'completionMode')[0] === 'Indexed');
  const merge = jobs.find((doc) => doc !== record);

  it('records with an Indexed Job whose completions equal --shards, each pod running --shard auto', () => {
    expect(record, 'a Job with completionMode: Indexed').toBeDefined();
    const [args] = containerArgs(record!);
    expect(flagValue(args, '--shard')).toBe('auto');
    const completions = Number(scalar(record!, 'completions'));
    expect(Number.isInteger(completions) && completions > 1).toBe(true);
    expect(Number(flagValue(args, '--shards')), 'completions and --shards name the same count').toBe(completions);
    expect(Number(scalar(record!, 'parallelism'))).toBeLessThanOrEqual(completions);
    expect(flagValue(args, '--out')).toBe('/shards');
    expect(scalar(record!, 'restartPolicy')).toBe('Never');
    expectFlagsKnown(args);
  });

  it('mounts the shared volume at /shards in both Jobs, from a ReadWriteMany claim', () => {
    expect(mountPaths(record!)).toContain('/shards');
    expect(mountPaths(merge!)).toContain('/shards');
    const claim = scalar(record!, 'claimName');
    expect(scalar(merge!, 'claimName')).toBe(claim);
    const pvc = ofKind(docs, 'PersistentVolumeClaim').find((doc) => scalar(doc, 'name') === claim);
    expect(pvc, `a PersistentVolumeClaim named ${claim}`).toBeDefined();
    expect(pvc).toMatch(/ReadWriteMany/);
  });

  it('merges in a second Job, created suspended so it waits for the record Job', () => {
    expect(merge, 'a second Job').toBeDefined();
    expect(containerArgs(merge!)).toEqual([MERGE_ARGS]);
    expect(scalar(merge!, 'suspend')).toBe('true');
    expect(read('deploy/kubernetes/indexed-job.yaml')).toMatch(/kubectl wait --for=condition=complete job\/atlas-record/);
    expectFlagsKnown(MERGE_ARGS);
  });
});

describe('deploy/cloud-run', () => {
  const [record] = yamlDocuments(read('deploy/cloud-run/job.yaml'));
  const [merge] = yamlDocuments(read('deploy/cloud-run/merge-job.yaml'));

  it('records with --shard auto, its count from taskCount (CLOUD_RUN_TASK_COUNT), never a --shards that could disagree', () => {
    const [args] = containerArgs(record);
    expect(flagValue(args, '--shard')).toBe('auto');
    expect(args, 'the count comes from CLOUD_RUN_TASK_COUNT, i.e. taskCount').not.toContain('--shards');
    const tasks = Number(scalar(record, 'taskCount'));
    expect(Number.isInteger(tasks) && tasks > 1).toBe(true);
    expect(Number(scalar(record, 'parallelism'))).toBeLessThanOrEqual(tasks);
    expect(flagValue(args, '--out')).toBe('/shards');
    expect(Number(scalar(record, 'timeoutSeconds')), 'more than the default 10 minutes a task').toBeGreaterThan(600);
    expectFlagsKnown(args);
  });

  it('mounts a Cloud Storage bucket (Cloud Storage FUSE) at /shards in both jobs, writable', () => {
    for (const doc of [record, merge]) {
      expect(mountPaths(doc)).toContain('/shards');
      expect(doc).toMatch(/driver:\s*gcsfuse\.run\.googleapis\.com/);
      expect(new Set(scalars(doc, 'bucketName')), 'one bucket').toEqual(new Set(scalars(record, 'bucketName')));
      expect(doc).toMatch(/readOnly:\s*false/);
    }
  });

  it('merges in a second job of one task', () => {
    expect(containerArgs(merge)).toEqual([MERGE_ARGS]);
    expect(scalar(merge, 'taskCount')).toBe('1');
    expect(jobName(merge)).not.toBe(jobName(record));
    expect(read('deploy/cloud-run/job.yaml')).toMatch(/jobs execute atlas-record [^\n]*--wait[^\n]*&&[^\n]*\n?[^\n]*jobs execute atlas-merge/);
  });
});

describe('deploy/aws-batch', () => {
  interface JobDefinition {
    parameters: Record<string, string>;
    containerProperties: {
      command: string[];
      volumes: { name: string; efsVolumeConfiguration?: { fileSystemId: string } }[];
      mountPoints: { sourceVolume: string; containerPath: string; readOnly?: boolean }[];
    };
  }
  const definition = JSON.parse(read('deploy/aws-batch/job-definition.json')) as JobDefinition;
  const submit = read('deploy/aws-batch/submit.sh');
  const { command } = definition.containerProperties;
  /** `Ref::name` in a command resolves to the definition's parameter default. */
  const resolved = (args: string[]) => args.map((a) => (a.startsWith('Ref::') ? definition.parameters[a.slice(5)] : a));

  it('records with --shard auto and --shards from the same SHARDS as the array size', () => {
    expect(flagValue(command, '--shard')).toBe('auto');
    expect(flagValue(command, '--shards')).toBe('Ref::shards');
    expect(flagValue(command, '--out')).toBe('/shards');
    const shardsDefault = /^SHARDS="\$\{SHARDS:-(\d+)\}"$/m.exec(submit);
    expect(shardsDefault, 'submit.sh sets SHARDS with a default').not.toBeNull();
    expect(definition.parameters.shards, "the definition's default agrees with submit.sh's").toBe(shardsDefault![1]);
    expect(submit).toMatch(/--array-properties "size=\$SHARDS"/);
    expect(submit).toMatch(/--parameters "[^"]*\bshards=\$SHARDS\b[^"]*"/);
    expect(resolved(command).every((a) => a !== undefined), 'every Ref:: has a default').toBe(true);
    expectFlagsKnown(command);
  });

  it('mounts an EFS volume at /shards, writable', () => {
    const mount = definition.containerProperties.mountPoints.find((m) => m.containerPath === '/shards');
    expect(mount, 'a mount point at /shards').toBeDefined();
    expect(mount!.readOnly).not.toBe(true);
    const volume = definition.containerProperties.volumes.find((v) => v.name === mount!.sourceVolume);
    expect(volume?.efsVolumeConfiguration, 'the /shards volume is EFS').toBeDefined();
  });

  it('merges in a job that depends on the whole array job', () => {
    const record = /^RECORD_ID="\$\(aws batch submit-job [^\n]*(?:\\\n[^\n]*)*\)"$/m.exec(submit);
    expect(record, 'the array job is submitted into RECORD_ID').not.toBeNull();
    const mergeLine = /^MERGE_ID="\$\(aws batch submit-job [^\n]*(?:\\\n[^\n]*)*\)"$/m.exec(submit);
    expect(mergeLine, 'the merge job is submitted into MERGE_ID').not.toBeNull();
    expect(mergeLine![0]).toMatch(/--depends-on "jobId=\$RECORD_ID"/);
    expect(mergeLine![0], 'a plain dependency on the array: N_TO_N would pair children').not.toMatch(/N_TO_N|SEQUENTIAL/);
    expect(mergeLine![0]).not.toMatch(/--array-properties/);
    const override = /--container-overrides '([^']*)'/.exec(mergeLine![0]);
    expect(override).not.toBeNull();
    expect((JSON.parse(override![1]) as { command: string[] }).command).toEqual(MERGE_ARGS);
  });
});
