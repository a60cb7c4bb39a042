import { copyFileSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { tempDir } from '../tempDir';

const SHAPES: Record<string, (k: number) => string> = {
  circles: (k) => `<circle cx="${28 + (k % 3) * 2}" cy="28" r="${14 + (k % 4) * 2}" fill="white"/>`,
  bars: (k) => `<rect x="${20 + (k % 3) * 3}" y="6" width="${10 + (k % 4)}" height="44" fill="white"/>`,
  frames: (k) => `<rect x="10" y="10" width="36" height="36" fill="none" stroke="white" stroke-width="${5 + (k % 3)}"/>`,
};

/** A small PNG of a white shape on black (what the Fashion-MNIST model is used to), 56x56 RGB. */
async function shapePng(kind: string, k: number): Promise<Buffer> {
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="56" height="56"><rect width="56" height="56" fill="black"/><g transform="rotate(${(k * 13) % 40 - 20} 28 28)" opacity="${0.6 + (k % 5) * 0.1}">${SHAPES[kind](k)}</g></svg>`;
  return sharp(Buffer.from(svg)).png().toBuffer();
}

/** A temp folder with one sub-folder per class (`circles/`, `bars/`, `frames/`), `perClass` PNGs each. */
export async function labelledFolder(perClass: number): Promise<{ dir: string; count: number; labels: string[] }> {
  const dir = tempDir('atlas-e2e-folder-');
  const root = join(dir, 'shapes');
  for (const kind of Object.keys(SHAPES)) {
    mkdirSync(join(root, kind), { recursive: true });
    for (let k = 0; k < perClass; k++) writeFileSync(join(root, kind, `${kind}-${k}.png`), await shapePng(kind, k));
  }
  return { dir: root, count: perClass * Object.keys(SHAPES).length, labels: Object.keys(SHAPES) };
}

/** Good PNGs plus a PNG of garbage bytes and a text file, as one flat list of paths. */
export async function filesWithCorruptOnes(good: number): Promise<{ paths: string[]; good: number; bad: string[] }> {
  const dir = tempDir('atlas-e2e-corrupt-');
  const paths: string[] = [];
  const kinds = Object.keys(SHAPES);
  for (let k = 0; k < good; k++) {
    const path = join(dir, `good-${k}.png`);
    writeFileSync(path, await shapePng(kinds[k % kinds.length], k));
    paths.push(path);
  }
  const garbage = join(dir, 'corrupt.png');
  writeFileSync(garbage, Buffer.from('this is not a png at all, just some bytes \x00\x01\x02'.repeat(20)));
  const text = join(dir, 'notes.txt');
  writeFileSync(text, 'not an image');
  return { paths: [...paths, garbage, text], good, bad: ['corrupt.png', 'notes.txt'] };
}

/** A 12-megapixel (4000 x 3000) JPEG photo-like gradient with texture, and a small one beside it. */
export async function largePhotos(): Promise<string[]> {
  const dir = tempDir('atlas-e2e-large-');
  const [width, height] = [4000, 3000];
  const pixels = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const o = (y * width + x) * 3;
      pixels[o] = (x * 255) / width;
      pixels[o + 1] = (y * 255) / height;
      pixels[o + 2] = ((x ^ y) & 63) * 4;
    }
  }
  const large = join(dir, 'photo-12mp.jpg');
  await sharp(pixels, { raw: { width, height, channels: 3 } }).jpeg({ quality: 85 }).toFile(large);
  const small = join(dir, 'photo-small.jpg');
  await sharp(pixels, { raw: { width, height, channels: 3 } }).resize(300, 225).jpeg().toFile(small);
  return [large, small, ...(await Promise.all([0, 1, 2].map(async (k) => {
    const path = join(dir, `shape-${k}.png`);
    writeFileSync(path, await shapePng('circles', k));
    return path;
  })))];
}

/** Copies fixture photos named `<class>_<n>.jpeg` into class sub-folders of a temp folder (never the repo). */
export function photosByClass(photoDir: string): { dir: string; count: number; labels: string[] } {
  const dir = join(tempDir('atlas-e2e-photos-'), 'photos');
  const labels = new Set<string>();
  let count = 0;
  for (const name of readdirSync(photoDir).filter((n) => /\.jpe?g$/i.test(n))) {
    const label = name.split('_')[0];
    labels.add(label);
    mkdirSync(join(dir, label), { recursive: true });
    copyFileSync(join(photoDir, name), join(dir, label, name));
    count++;
  }
  return { dir, count, labels: [...labels].sort() };
}
