import { existsSync, mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { after, afterEach, before } from 'node:test';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { preview, type PreviewServer } from 'vite';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const outputDir = join(repoRoot, 'test-output', 'e2e');
/** Real models and photos beside the project; tests that need them skip when it is absent, and fail under CI (`fixtureAvailable`). */
export const fixturesDir = resolve(repoRoot, '../shared/fixtures');
export { fixtureAvailable } from '../missingFixture';

/** Generous: the first atlas is built by the model and projection in software in CI. */
export const BUILD_TIMEOUT_MS = Number(process.env.E2E_BUILD_TIMEOUT_MS ?? 300_000);

async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolvePort(port));
    });
  });
}

/** Serves the built app (dist/) on a free localhost port, with the config's COOP/COEP headers. */
export async function serveApp(): Promise<{ url: string; close: () => Promise<void> }> {
  if (!existsSync(join(repoRoot, 'dist', 'index.html'))) throw new Error('dist/ is missing: run `vite build` first (npm run test:e2e does).');
  const port = await freePort();
  const server: PreviewServer = await preview({
    root: repoRoot,
    logLevel: 'warn',
    preview: { host: '127.0.0.1', port, strictPort: true, open: false },
  });
  return { url: `http://127.0.0.1:${port}/`, close: () => server.close() };
}

/** Headless Chromium with the project's flags, and any a suite adds (e.g. to measure memory at once). */
export async function launchBrowser(extraFlags: string[] = []): Promise<Browser> {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--enable-unsafe-webgpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', ...extraFlags],
  });
}

/**
 * Console errors that are known to be harmless, each with why. Anything else that the page or its workers
 * log as an error, and every uncaught exception, fails the test it happened in (`openAppForSuite`).
 * When the list was made (issue 15) the whole suite logged none, so it is empty: add an entry only with
 * the reason the message is not a bug, and match it as narrowly as possible.
 */
export const BENIGN_CONSOLE_ERRORS: readonly { pattern: RegExp; why: string }[] = [];

/** Those of `errors` (as `collectPageErrors` writes them) that are not on BENIGN_CONSOLE_ERRORS. */
function unexpectedErrors(errors: readonly string[]): string[] {
  return errors.filter((e) => !BENIGN_CONSOLE_ERRORS.some((b) => b.pattern.test(e)));
}

/** Throws, listing them, if `errors` holds any that are not on the allow-list. */
export function assertNoUnexpectedErrors(errors: readonly string[], when: string): void {
  const unexpected = unexpectedErrors(errors);
  if (unexpected.length === 0) return;
  throw new Error(`The page logged ${unexpected.length} unexpected error(s) ${when} (benign ones are listed in tests/e2e/harness.ts):\n  ${unexpected.join('\n  ')}`);
}

/** Collects the page's (and its workers') console errors and uncaught exceptions into the returned list, as they come. */
export function collectPageErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('console', (m) => {
    if (m.type() !== 'error') return;
    const { url, lineNumber } = m.location();
    errors.push(`console.error: ${m.text()}${url ? ` (${url}:${lineNumber})` : ''}`);
  });
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  return errors;
}

/** A page with the app loaded; the page's console errors (`collectPageErrors`) and long tasks are collected. */
export async function openApp(browser: Browser, url: string): Promise<{ page: Page; consoleErrors: string[] }> {
  const context = await browser.newContext({ viewport: { width: 1440, height: 900 }, acceptDownloads: true });
  const page = await context.newPage();
  const consoleErrors = collectPageErrors(page);
  await page.addInitScript(() => {
    const w = window as unknown as { __longTasks: [number, number][] };
    w.__longTasks = [];
    try {
      new PerformanceObserver((list) => {
        for (const e of list.getEntries()) w.__longTasks.push([e.startTime, e.duration]);
      }).observe({ type: 'longtask', buffered: true });
    } catch {
      // No long-task timing in this browser: nothing is recorded.
    }
  });
  await page.goto(url);
  return { page, consoleErrors };
}

/** Runs a wait; on a timeout, the error says what the app was doing instead. */
async function waitWithState<T>(page: Page, wait: () => Promise<T>): Promise<T> {
  try {
    return await wait();
  } catch (e) {
    const state = await page.evaluate(() => ({ status: window.__atlas?.status, error: window.__atlas?.error, version: window.__atlas?.atlasVersion })).catch(() => null);
    throw new Error(`${(e as Error).message}\n  app state then: ${JSON.stringify(state)}`);
  }
}

/** Waits until the app reports `status` (and fails fast, with the app's message, on 'error'). */
export async function waitForStatus(page: Page, status: string, timeout = BUILD_TIMEOUT_MS): Promise<void> {
  const handle = await waitWithState(page, () => page.waitForFunction(
    (wanted) => {
      const a = window.__atlas;
      if (!a) return false;
      if (a.status === wanted) return { ok: true };
      if (a.status === 'error' && wanted !== 'error') return { ok: false, error: a.error };
      return false;
    },
    status,
    { timeout, polling: 100 },
  ));
  const result = (await handle.jsonValue()) as { ok: boolean; error?: string };
  if (!result.ok) throw new Error(`The app reported an error instead of "${status}": ${result.error}`);
}

/**
 * Waits for a new atlas (version above `before.atlasVersion`) to be on screen and ready; fails fast on
 * an error other than the one shown before the action. `before` is the state taken before the action.
 */
export async function waitForNewAtlas(
  page: Page,
  before: { atlasVersion: number; error?: string | null },
  timeout = BUILD_TIMEOUT_MS,
): Promise<void> {
  const handle = await waitWithState(page, () =>
    page.waitForFunction(
      ({ version, previousError }) => {
        const a = window.__atlas;
        if (!a) return false;
        if (a.status === 'ready' && a.atlasVersion > version) return { ok: true };
        if (a.status === 'error' && a.error !== previousError) return { ok: false, error: a.error };
        return false;
      },
      { version: before.atlasVersion, previousError: before.error ?? null },
      { timeout, polling: 100 },
    ),
  );
  const result = (await handle.jsonValue()) as { ok: boolean; error?: string };
  if (!result.ok) throw new Error(`The app reported an error instead of a new atlas: ${result.error}`);
}

export async function atlasState(page: Page) {
  return page.evaluate(() => {
    const a = window.__atlas!;
    return {
      status: a.status,
      error: a.error ?? null,
      backend: a.backend,
      inputCount: a.inputCount,
      activationCount: a.activationCount,
      gridSize: a.gridSize,
      cellCount: a.cellCount,
      atlasVersion: a.atlasVersion,
    };
  });
}

export async function cellCenters(page: Page) {
  return page.evaluate(() => window.__atlas!.cellScreenCenters());
}

/** Waits until the cells on screen stay where they are for three animation frames (a zoom, pan or resize has settled). */
export async function waitForSteadyView(page: Page, timeout = 15_000): Promise<void> {
  await page.waitForFunction(
    () => {
      const w = window as unknown as { __lastCenters?: string; __steadyFrames?: number };
      const now = JSON.stringify(window.__atlas?.cellScreenCenters() ?? []);
      // Steady: the cells still on screen for three frames, and every icon tile of the level drawn.
      const settled = now === w.__lastCenters && now !== '[]' && (window.__atlas?.iconTilesPending() ?? 0) === 0;
      w.__steadyFrames = settled ? (w.__steadyFrames ?? 0) + 1 : 0;
      w.__lastCenters = now;
      return w.__steadyFrames >= 3;
    },
    null,
    { timeout, polling: 'raf' },
  );
}

/** Saves a screenshot of the whole page under test-output/e2e/, named by step. */
export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(outputDir, { recursive: true });
  const path = join(outputDir, `${name}.png`);
  // Two frames, so what the last state change asked deck.gl to draw is on the canvas.
  await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
  await page.screenshot({ path });
  return path;
}

/**
 * The longest main-thread task so far, and the longest one that started while the app was in `status`: the
 * browser's long-task entries, lined up with the app's own status marks (both on the performance timeline).
 */
export async function longestTasks(page: Page, status: string): Promise<{ overall: number; during: number }> {
  return page.evaluate((wanted) => {
    const w = window as unknown as { __longTasks: [number, number][] };
    // No named helpers in here: tsx would wrap them in a __name() that the page does not have.
    const log = performance.getEntriesByName('atlas-status').map((m) => [m.startTime, (m as PerformanceMark).detail as string] as const);
    const overall = Math.max(0, ...w.__longTasks.map(([, d]) => d));
    const during = Math.max(0, ...w.__longTasks.filter(([t]) => log.filter(([at]) => at <= t).pop()?.[1] === wanted).map(([, d]) => d));
    return { overall, during };
  }, status);
}

/** The app served and open in a fresh Chromium; `close` stops both. */
async function startApp(): Promise<{ page: Page; consoleErrors: string[]; close: () => Promise<void> }> {
  const server = await serveApp();
  const browser = await launchBrowser();
  try {
    const { page, consoleErrors } = await openApp(browser, server.url);
    return {
      page,
      consoleErrors,
      close: async () => {
        await browser.close();
        await server.close();
      },
    };
  } catch (e) {
    await browser.close();
    await server.close();
    throw e;
  }
}

/**
 * Opens the app in a fresh Chromium before the enclosing suite's tests and closes both after them;
 * `opened` receives the page (e.g. to keep it in the suite's `page` variable) and may wait for a state.
 * Each test fails at its end if the page logged an error that is not on BENIGN_CONSOLE_ERRORS meanwhile
 * (those logged while the app opened count against the first test; those after the last test fail the suite).
 */
export function openAppForSuite(opened: (page: Page) => void | Promise<void>): void {
  let app: Awaited<ReturnType<typeof startApp>> | undefined;
  const checkErrors = (when: string) => assertNoUnexpectedErrors(app?.consoleErrors.splice(0) ?? [], when);
  before(async () => {
    app = await startApp();
    await opened(app.page);
  });
  afterEach(() => checkErrors('during this test'));
  after(async () => {
    try {
      checkErrors('after the last test');
    } finally {
      await app?.close();
    }
  });
}

/** openAppForSuite, with the suite starting once the app's first atlas is ready. */
export function openReadyAppForSuite(opened: (page: Page) => void): void {
  openAppForSuite(async (page) => {
    opened(page);
    await waitForStatus(page, 'ready');
  });
}
