import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import { assertNoUnexpectedErrors, BUILD_TIMEOUT_MS, launchBrowser, openApp, repoRoot, screenshot, serveApp } from './harness';

/** The bundled sample's first paragraphs, pasted: about 7,800 tokens, enough to time, few enough to lay out quickly. */
const PARAGRAPHS = 60;
const text = readFileSync(join(repoRoot, 'public/text-sample/moby-dick-sample.jsonl'), 'utf8')
  .trim()
  .split('\n')
  .slice(0, PARAGRAPHS)
  .map((line) => (JSON.parse(line) as { text: string }).text)
  .join('\n\n');

/** What a page reports after recording the pasted text with the built-in text model. */
async function recordPasted(browser: Browser, url: string, shot?: string) {
  const { page, consoleErrors } = await openApp(browser, url);
  try {
    // Pasted once the first (image) build has started: the text build cancels it, as a user's would.
    await page.waitForFunction(() => ['recording', 'projecting', 'ready'].includes(window.__atlas?.status ?? ''), null, { timeout: BUILD_TIMEOUT_MS });
    await page.locator('[data-testid=text-paste]').fill(text);
    await page.locator('[data-testid=text-run]').click();
    const handle = await page.waitForFunction(
      () => {
        const a = window.__atlas;
        if (a?.status === 'error') return { error: a.error ?? '' };
        return a?.status === 'ready' && a.modality === 'text' && a.recording?.unit === 'tokens' ? { error: null } : false;
      },
      null,
      { timeout: BUILD_TIMEOUT_MS, polling: 100 },
    );
    const { error } = (await handle.jsonValue()) as { error: string | null };
    if (error !== null) throw new Error(`${url}: the app reported an error instead of a text atlas: ${error}`);
    const state = await page.evaluate(() => ({
      recording: window.__atlas!.recording!,
      backend: window.__atlas!.backend,
      threads: window.__atlas!.backendThreads,
      isolated: window.crossOriginIsolated,
    }));
    // The icons stage counts inputs, then levels: it ends at its total (it once counted distinct tokens against inputs).
    const icons = await page.locator('.stages li', { hasText: 'Icons' }).locator('.stage-msg').innerText();
    const [done, total] = icons.split('/').map(Number);
    assert.ok(total > 0 && done === total, `the icons stage reads "${icons}" once the atlas is ready`);
    const line = page.locator('[data-testid=recording-rate]');
    if (shot) {
      await line.scrollIntoViewIfNeeded();
      await screenshot(page, shot);
    }
    assertNoUnexpectedErrors(consoleErrors, `on ${url}`);
    return { ...state, line: await line.innerText() };
  } finally {
    await page.context().close();
  }
}

describe('text: the page records the built-in GPT-2 on wasm with threads off and on', { timeout: 10 * 60_000 }, () => {
  let server: Awaited<ReturnType<typeof serveApp>>;
  let browser: Browser;
  before(async () => {
    server = await serveApp();
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await server?.close();
  });

  it('prints both recording rates; 2 threads record the same activations, bit for bit', async () => {
    // One page after the other, so that neither competes with the other for the cores.
    const off = await recordPasted(browser, `${server.url}?backend=wasm&threads=0`);
    const on = await recordPasted(browser, `${server.url}?backend=wasm&threads=2`, '43-text-threads-rate');
    for (const [name, r] of [['threads off', off], ['threads=2', on]] as const) {
      const rate = r.recording.count / r.recording.seconds;
      console.log(`${name}: ${r.backend}, ${r.threads} thread(s): ${r.recording.count} tokens in ${r.recording.seconds.toFixed(3)} s, ${rate.toFixed(0)} tokens/s ("${r.line}")`);
    }
    assert.equal(off.backend, 'wasm');
    assert.equal(off.threads, 1, 'threads off: one thread');
    assert.ok(on.isolated, 'the page is not cross-origin isolated (COOP/COEP headers missing): wasm cannot share memory with threads, so ?threads=2 cannot run');
    assert.equal(on.backend, 'wasm');
    assert.equal(on.threads, 2, 'the backend reports the 2 threads asked for');
    assert.equal(on.recording.count, off.recording.count, 'the same tokens');
    assert.deepEqual(on.recording.head, off.recording.head, 'the first recorded values');
    assert.equal(on.recording.digest, off.recording.digest, 'every recorded value, bit for bit (a hash of the table)');
  });
});
