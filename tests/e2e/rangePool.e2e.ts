import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { build, preview, type PreviewServer } from 'vite';
import { assertNoUnexpectedErrors, collectPageErrors, launchBrowser, repoRoot } from './harness';

const probeRoot = join(repoRoot, 'tests/e2e/rangePoolProbe');
const probeDist = join(repoRoot, 'test-output/range-pool-probe');

/** Builds the test-only probe page with the app's vite config (its COOP/COEP headers included), and serves it. */
async function serveProbe(): Promise<{ url: string; close: () => Promise<void> }> {
  const shared = { configFile: join(repoRoot, 'vite.config.ts'), root: probeRoot, logLevel: 'warn' as const, build: { outDir: probeDist, emptyOutDir: true } };
  await build(shared);
  const server: PreviewServer = await preview({ ...shared, preview: { host: '127.0.0.1', port: 0, open: false } });
  const url = server.resolvedUrls?.local[0];
  if (!url) throw new Error('the probe server has no local URL');
  return { url, close: () => server.close() };
}

describe('the range pool in Chromium: nested module workers over shared memory', { timeout: 5 * 60_000 }, () => {
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
    await page.waitForFunction(() => window.__rangePoolProbe, null, { timeout: 60_000 });
  });
  after(async () => {
    await browser?.close();
    await server?.close();
  });

  it('a worker spawns its pool from navigator.hardwareConcurrency; NN-descent and UMAP placement give the same results with it as without', async () => {
    assert.ok(await page.evaluate(() => window.__rangePoolProbe!.crossOriginIsolated), 'the page is cross-origin isolated');
    const r = await page.evaluate(() => window.__rangePoolProbe!.probe(20_000, 64));
    console.log(`NN-descent 20,000 x 64 in a worker: ${r.secondsAlone.toFixed(2)} s alone, ${r.secondsPooled.toFixed(2)} s on ${r.threads} threads (hardwareConcurrency ${r.hardwareConcurrency})`);
    assert.ok(r.sharesMemory, 'the worker has SharedArrayBuffer');
    assert.equal(r.threads, r.hardwareConcurrency);
    assert.ok(r.threads > 1, 'more than one core to test on');
    assert.ok(r.sameGraph, 'the pooled graph equals the single-thread one');
    assert.equal(r.placedRows, 2000, 'UMAP fitted 1,000 of 3,000 rows and placed the rest');
    assert.ok(r.samePlaces, 'rows placed on the pool land where the worker alone places them');
    assertNoUnexpectedErrors(consoleErrors, 'the probe');
  });
});
