/**
 * Runs the real-browser tests (tests/e2e/*.e2e.ts) one file at a time against the built app.
 * Usage: vite build && node --import tsx tests/e2e/run.ts [name-filter]
 */
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { run } from 'node:test';
import { spec } from 'node:test/reporters';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const filter = process.argv[2] ?? '';
const files = readdirSync(here)
  .filter((f) => f.endsWith('.e2e.ts') && f.includes(filter))
  .sort()
  .map((f) => join(here, f));

const started = Date.now();
const stream = run({ files, concurrency: 1 });
stream.on('test:fail', () => {
  process.exitCode = 1;
});
stream.on('end', () => console.log(`e2e wall time ${((Date.now() - started) / 1000).toFixed(1)} s`));
stream.compose(new spec()).pipe(process.stdout);
