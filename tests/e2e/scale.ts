/** What the scale e2e test and bench/pageScale.ts share: a large folder of images, a browser that measures memory at once, the browser's processes. */
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { deflateSync } from 'node:zlib';
import type { Browser } from 'playwright-core';
import { encodePng } from '../../src/lib/png';
import { launchBrowser, repoRoot } from './harness';
import { tempDir } from '../tempDir';

/** A marker among the browser's flags, to find its processes by. */
const MEASURING_FLAG = '--enable-blink-features=ForceEagerMeasureMemory';

/** Chromium as the harness launches it, with measurements of memory answered at once (after a full GC) instead of at its next one. */
export function launchMeasuringBrowser(): Promise<Browser> {
  return launchBrowser([MEASURING_FLAG]);
}

/** The pids of a measuring browser's processes (the browser's, then its descendants'); empty where there is no /proc. */
export function browserProcesses(): number[] {
  if (!existsSync('/proc/self/task')) return [];
  const root = readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .map(Number)
    .filter((pid) => {
      try {
        const args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
        return args.includes(MEASURING_FLAG) && !args.some((a) => a.startsWith('--type='));
      } catch {
        return false;
      }
    })
    .sort((a, b) => a - b)[0];
  if (root === undefined) return [];
  const out: number[] = [];
  const visit = (pid: number) => {
    out.push(pid);
    try {
      for (const task of readdirSync(`/proc/${pid}/task`)) {
        for (const child of readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8').split(/\s+/).filter(Boolean)) visit(Number(child));
      }
    } catch {
      // The process ended meanwhile.
    }
  };
  visit(root);
  return out;
}

/** The most open files of any one of `pids`, and their resident memory summed (shared pages counted in each, as `ps` sums them). */
export function processStats(pids: readonly number[]): { mostOpenFiles: number; rssBytes: number } {
  let mostOpenFiles = 0;
  let rssBytes = 0;
  for (const pid of pids) {
    try {
      mostOpenFiles = Math.max(mostOpenFiles, readdirSync(`/proc/${pid}/fd`).length);
      const rss = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
      if (rss) rssBytes += Number(rss[1]) * 1024;
    } catch {
      // The process ended meanwhile.
    }
  }
  return { mostOpenFiles, rssBytes };
}

/** zlib in this thread: for 28x28 images far quicker than a pool's round trip. */
const compress = (bytes: Uint8Array) => Promise.resolve(new Uint8Array(deflateSync(bytes)));

/**
 * A temp folder of `count` Fashion-MNIST PNGs (28x28 grey), one sub-folder per class, from the bundled sample
 * (public/sample: 3,000 test images): past 3,000 the images repeat, each repeat shifted by a pixel, so every
 * file is its own image. Plus `corrupt` files with a .png name that are not PNGs. Returns the folder and timings.
 */
export async function fashionFolder(count: number, corrupt = 0): Promise<{ dir: string; good: number; bad: string[]; ms: number }> {
  const t0 = Date.now();
  const sampleDir = join(repoRoot, 'public', 'sample');
  const manifest = JSON.parse(readFileSync(join(sampleDir, 'manifest.json'), 'utf8')) as {
    count: number;
    width: number;
    height: number;
    file: string;
    labelNames: string[];
    labels: number[];
  };
  const pixels = readFileSync(join(sampleDir, manifest.file));
  const { width, height } = manifest;
  const size = width * height;
  const folders = manifest.labelNames.map((name) => name.replace(/[^A-Za-z0-9-]+/g, '-'));
  const dir = join(tempDir('atlas-e2e-fashion-'), 'fashion');
  for (const folder of folders) mkdirSync(join(dir, folder), { recursive: true });
  const shifted = new Uint8Array(size);
  for (let i = 0; i < count; i++) {
    const source = i % manifest.count;
    const shift = Math.floor(i / manifest.count);
    const image = pixels.subarray(source * size, (source + 1) * size);
    // A horizontal shift (wrapping) by `shift` pixels: the same garment, another file's worth of bytes.
    for (let p = 0; p < size; p++) shifted[p] = image[p - (p % width) + ((p % width) + width - shift) % width];
    const png = await encodePng({ width, height, channels: 1, data: shifted }, compress);
    writeFileSync(join(dir, folders[manifest.labels[source]], `${i}.png`), png);
  }
  const bad: string[] = [];
  for (let k = 0; k < corrupt; k++) {
    const name = `corrupt-${k}.png`;
    writeFileSync(join(dir, folders[k % folders.length], name), Buffer.from(`not a png ${k} `.repeat(16)));
    bad.push(name);
  }
  return { dir, good: count, bad, ms: Date.now() - t0 };
}
