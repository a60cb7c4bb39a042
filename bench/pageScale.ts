/**
 * The page over large folders of images, as a new user picks them: for each size, a folder of Fashion-MNIST PNGs
 * (tests/e2e/scale.ts) picked in a fresh Chromium through the folder picker. Prints the build's seconds, the model
 * worker's memory (window.__atlas.modelMemory) at a quarter, half and the end of the recording and its growth per
 * input, Chromium's peak resident memory (all its processes summed) and the most open files of any one process.
 *
 *   npm run bench:page-scale -- [--sizes 5000,10000,20000]
 *
 * Serves dist/ (the npm script builds it first).
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { atlasState, openApp, serveApp, waitForNewAtlas, waitForStatus } from '../tests/e2e/harness';
import { browserProcesses, fashionFolder, launchMeasuringBrowser, processStats } from '../tests/e2e/scale';
import { parseArgs, printTable } from './lib';

interface Run {
  images: number;
  inputs: number;
  seconds: number;
  worker: { quarter: number; half: number; end: number; perInput: number };
  peakRssBytes: number;
  mostOpenFiles: number;
}

const mb = (bytes: number) => (bytes / 2 ** 20).toFixed(0);

async function buildOnce(images: number): Promise<Run> {
  const folder = await fashionFolder(images);
  const server = await serveApp();
  const browser = await launchMeasuringBrowser();
  try {
    const { page } = await openApp(browser, server.url);
    await waitForStatus(page, 'ready');
    const before = await atlasState(page);
    let peakRssBytes = 0;
    let mostOpenFiles = 0;
    const watch = setInterval(() => {
      const stats = processStats(browserProcesses());
      peakRssBytes = Math.max(peakRssBytes, stats.rssBytes);
      mostOpenFiles = Math.max(mostOpenFiles, stats.mostOpenFiles);
    }, 500);
    const started = Date.now();
    try {
      await page.locator('[data-testid=folder-input]').setInputFiles(folder.dir);
      await waitForNewAtlas(page, before);
    } finally {
      clearInterval(watch);
    }
    const seconds = (Date.now() - started) / 1000;
    const { samples } = await page.evaluate(() => window.__atlas!.modelMemory);
    const total = samples.at(-1)?.total ?? 0;
    const at = (share: number) => samples.find((m) => m.inputs > 0 && m.inputs >= share * total) ?? { inputs: 0, bytes: 0 };
    const end = samples.filter((m) => m.inputs >= 0.9 * total).reduce((a, b) => (b.bytes > a.bytes ? b : a), { inputs: 0, bytes: 0, total });
    const quarter = at(0.25);
    return {
      images,
      inputs: (await atlasState(page)).inputCount,
      seconds,
      worker: { quarter: quarter.bytes, half: at(0.5).bytes, end: end.bytes, perInput: (end.bytes - quarter.bytes) / Math.max(1, end.inputs - quarter.inputs) },
      peakRssBytes,
      mostOpenFiles,
    };
  } finally {
    await browser.close();
    await server.close();
    rmSync(join(folder.dir, '..'), { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const sizes = (args.get('sizes') ?? '5000,10000,20000').split(',').map(Number);
  const runs: Run[] = [];
  for (const images of sizes) {
    const run = await buildOnce(images);
    console.error(`${images} images: ${run.seconds.toFixed(1)} s`);
    runs.push(run);
  }
  printTable(
    ['images', 'in atlas', 'build s', 'worker MB at 1/4', 'at 1/2', 'at end', 'bytes/input', 'Chromium peak RSS MB', 'most open files'],
    runs.map((r) => [
      String(r.images),
      String(r.inputs),
      r.seconds.toFixed(1),
      mb(r.worker.quarter),
      mb(r.worker.half),
      mb(r.worker.end),
      r.worker.perInput.toFixed(0),
      mb(r.peakRssBytes),
      String(r.mostOpenFiles),
    ]),
    (c) => c > 0,
  );
}

await main();
