import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { build, preview, type PreviewServer } from 'vite';
import type { Comparison, Difference } from './backendProbe/main';
import { assertNoUnexpectedErrors, collectPageErrors, fixturesDir, launchBrowser, repoRoot } from './harness';

const probeRoot = join(repoRoot, 'tests/e2e/backendProbe');
const probeDist = join(repoRoot, 'test-output/backend-probe');

/**
 * Largest allowed error against wasm, as max |x - wasm| / max |wasm| over each output. Float32 arithmetic in another
 * order (GPU reductions, SwiftShader's exp and tanh) moved the last digits: at most 1.1e-6 here on webgl and on webgpu
 * (GPT-2's logits). A wrong kernel moves them all (a relative error near 1, as a zero read-back gave).
 */
const FORWARD_TOLERANCE = 1e-4;
/** Gradients go through more kernels (and max pooling's choice of a window's maximum): ten times the forward's. */
const GRADIENT_TOLERANCE = 1e-3;
const tolerance = (output: string) => (output === 'cnn.predicted' ? 0 : output.startsWith('featureVis.gradient') ? GRADIENT_TOLERANCE : FORWARD_TOLERANCE);

/** Builds the test-only probe page (tests/e2e/backendProbe) with the app's vite config, and serves it. */
async function serveProbe(): Promise<{ url: string; close: () => Promise<void> }> {
  const configFile = join(repoRoot, 'vite.config.ts');
  const shared = { configFile, root: probeRoot, publicDir: join(repoRoot, 'public'), logLevel: 'warn' as const, build: { outDir: probeDist, emptyOutDir: true } };
  await build(shared);
  const server: PreviewServer = await preview({ ...shared, preview: { host: '127.0.0.1', port: 0, open: false } });
  const url = server.resolvedUrls?.local[0];
  if (!url) throw new Error('the probe server has no local URL');
  return { url, close: () => server.close() };
}

const format = (name: string, d: Difference) =>
  `${name}: max abs ${d.maxAbs.toExponential(2)}, relative ${d.relative.toExponential(2)} (tolerance ${tolerance(name)}; scale ${d.scale.toPrecision(3)}, ${d.values} values)`;

/** Prints a backend's differences from wasm and checks each against its tolerance. */
function checkAgainstWasm(comparison: Comparison): void {
  console.log(`${comparison.backend} (${comparison.reason}) vs wasm, ${comparison.seconds.toFixed(1)} s:\n  ${Object.entries(comparison.differences).map(([n, d]) => format(n, d)).join('\n  ')}`);
  assert.deepEqual(comparison.errors, {}, `checks that failed on ${comparison.backend}`);
  const failed = Object.entries(comparison.differences).filter(([name, d]) => !(d.relative <= tolerance(name)));
  assert.deepEqual(failed.map(([name, d]) => format(name, d)), [], `${comparison.backend} disagrees with wasm beyond the tolerances`);
  assert.equal(comparison.leakedTensors, 0, 'tensors left behind by the checks');
}

describe('every TF.js backend agrees with wasm in Chromium', { timeout: 10 * 60_000 }, () => {
  let server: Awaited<ReturnType<typeof serveProbe>> | undefined;
  let browser: Browser | undefined;
  let page: Page;
  let consoleErrors: string[] = [];

  before(async () => {
    server = await serveProbe();
    browser = await launchBrowser();
    page = await browser.newPage();
    consoleErrors = collectPageErrors(page);
    await page.goto(server.url);
    await page.waitForFunction(() => window.__backendProbe, null, { timeout: 60_000 });
    const reference = await page.evaluate(() => window.__backendProbe!.runReference(['cnn', 'gpt2', 'featureVis']));
    assert.equal(reference.backend, 'wasm', reference.reason);
    assert.deepEqual(reference.errors, {}, 'the wasm reference ran every check');
    console.log(`wasm reference: ${reference.seconds.toFixed(1)} s`);
  });
  after(async () => {
    await browser?.close();
    await server?.close();
  });

  it('webgl (SwiftShader here): CNN recording, GPT-2 forward and a feature-visualisation gradient match wasm', async () => {
    const comparison = await page.evaluate(() => window.__backendProbe!.compareWith('webgl'));
    assert.equal(comparison.backend, 'webgl', `webgl did not start: ${comparison.reason}`);
    checkAgainstWasm(comparison);
  });

  it('webgpu, where Chromium offers an adapter: chosen only where it reads back right; its kernels match wasm', async (t: TestContext) => {
    const adapter = await page.evaluate(() => window.__backendProbe!.webgpuAdapter());
    console.log(`WebGPU adapter offered to the page: ${JSON.stringify(adapter)}`);
    if (!adapter) {
      t.skip('Chromium offers no WebGPU adapter here');
      return;
    }
    const chosen = await page.evaluate(() => window.__backendProbe!.compareWith('webgpu'));
    if (chosen.backend === 'webgpu') {
      checkAgainstWasm(chosen);
      return;
    }
    // Refused: the page falls back with a reason that names webgpu and what is wrong with it.
    console.log(`?backend=webgpu fell back to ${chosen.backend}: ${chosen.reason}`);
    assert.match(chosen.reason, /webgpu: requested but (its|failed)/);
    // The probe's failed read lost the worker's GPU device; the page's own WebGL (the atlas view) still works.
    const pageWebgl = await page.evaluate(() => {
      const gl = document.createElement('canvas').getContext('webgl2');
      return gl !== null && !gl.isContextLost();
    });
    assert.ok(pageWebgl, 'the page can still draw with WebGL2 after webgpu was refused');
    // Its kernels, read back asynchronously as the recording and the icons do, still match wasm.
    const forced = await page.evaluate(() => window.__backendProbe!.compareWith('webgpu', { force: true }));
    assert.equal(forced.backend, 'webgpu');
    checkAgainstWasm(forced);
  });

  it('wasm threads in a module worker: the pool has the threads asked for; recording rows/s with 1 and 2 threads', async () => {
    const env = await page.evaluate(() => ({ isolated: window.__backendProbe!.crossOriginIsolated, cores: window.__backendProbe!.hardwareConcurrency }));
    assert.ok(env.isolated, 'the page is cross-origin isolated (COOP/COEP), so wasm can share memory with threads');
    const label = (threads: number) => (threads === 0 ? 'threads off' : threads === -1 ? 'threaded default' : `${threads} thread${threads > 1 ? 's' : ''}`);
    const best = new Map<number, number>();
    // A 224 x 224 model, where the forward outweighs decoding, when the shared fixtures are beside the project.
    const mobilenet = join(fixturesDir, 'models/mobilenet_v1_025_224');
    const userModel = existsSync(mobilenet)
      ? { files: readdirSync(mobilenet).filter((f) => /\.(json|bin)$/.test(f)).map((f) => ({ name: f, base64: readFileSync(join(mobilenet, f)).toString('base64') })), images: 96 }
      : undefined;
    if (!userModel) console.log(`no ${mobilenet}: timing the built-in models only`);
    for (let round = 0; round < 2; round++) {
      for (const threads of [0, 1, 2, -1]) {
        const r = await page.evaluate(([n, model]) => window.__backendProbe!.throughput(n, 3000, model), [threads, userModel] as const);
        assert.deepEqual(r.errors, {});
        if (threads !== 0) assert.ok(r.wasmThreading.multithreadSupport, `the threaded build runs when threads are on: ${JSON.stringify(r.wasmThreading)}`);
        const expected = threads === 0 ? 1 : threads === -1 ? Math.min(8, env.cores) : Math.min(threads, env.cores);
        assert.equal(r.threads, expected, `${label(threads)}: XNNPACK's pool has ${r.threads} threads, expected ${expected} (hardwareConcurrency ${env.cores})`);
        const { rowsPerSecond, forwardRowsPerSecond, rows, featureVisStepsPerSecond, gpt2TokensPerSecond } = r.throughput!;
        best.set(threads, Math.max(best.get(threads) ?? 0, rowsPerSecond));
        console.log(
          `wasm, ${label(threads)} (pool ${r.threads}): ${rows} rows recorded at ${rowsPerSecond.toFixed(0)} rows/s; forward alone ${forwardRowsPerSecond.toFixed(0)} rows/s; ` +
            `feature vis ${featureVisStepsPerSecond.toFixed(2)} steps/s (16 icons); GPT-2 ${gpt2TokensPerSecond.toFixed(0)} tokens/s` +
            (r.throughput!.userModel ? `; mobilenet_v1_025_224 (${r.throughput!.userModel.layer}) ${r.throughput!.userModel.rowsPerSecond.toFixed(0)} rows/s` : ''),
        );
      }
    }
    console.log(`hardwareConcurrency ${env.cores}; best recording rows/s: ${[...best].map(([n, v]) => `${label(n)} ${v.toFixed(0)}`).join(', ')}`);
  });

  it('logs no errors on the page or in its workers', () => {
    assertNoUnexpectedErrors(consoleErrors, 'while the backends were checked');
  });
});
