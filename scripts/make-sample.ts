/**
 * Writes the bundled sample: 3,000 Fashion-MNIST test images, 300 per class, in a seeded shuffled
 * order, to public/sample/ (raw uint8 pixels + manifest.json + README.md).
 *
 * Usage: npm run make-sample
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRng } from '../src/lib/rng';
import { FASHION_MNIST_CLASS_NAMES, loadFashionMnist } from './fashion-mnist';

const SEED = 2017;
const PER_CLASS = 300;
const OUT_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '../public/sample');
const PIXEL_FILE = 'fashion-mnist-sample.u8';
const ATTRIBUTION = 'Fashion-MNIST, Zalando Research (Xiao, Rasul, Vollgraf 2017), MIT licence';

function shuffleInPlace(values: Int32Array, random: () => number): void {
  for (let i = values.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    const t = values[i];
    values[i] = values[j];
    values[j] = t;
  }
}

/** Test-set indices: PER_CLASS drawn at random from each class, then the whole list shuffled. */
export function stratifiedTestIndices(labels: Uint8Array, numClasses: number, perClass: number, seed: number): Int32Array {
  const random = createRng(seed);
  const picked = new Int32Array(numClasses * perClass);
  for (let c = 0; c < numClasses; c++) {
    const ofClass = Int32Array.from(labels.keys()).filter((i) => labels[i] === c);
    if (ofClass.length < perClass) throw new Error(`class ${c} has only ${ofClass.length} test images`);
    shuffleInPlace(ofClass, random);
    picked.set(ofClass.subarray(0, perClass), c * perClass);
  }
  shuffleInPlace(picked, random);
  return picked;
}

function main(): void {
  const test = loadFashionMnist('t10k');
  const pixels = test.width * test.height;
  const testIndex = stratifiedTestIndices(test.labels, FASHION_MNIST_CLASS_NAMES.length, PER_CLASS, SEED);
  const count = testIndex.length;

  const images = new Uint8Array(count * pixels);
  const labels = new Array<number>(count);
  testIndex.forEach((source, i) => {
    images.set(test.images.subarray(source * pixels, (source + 1) * pixels), i * pixels);
    labels[i] = test.labels[source];
  });

  const manifest = {
    name: 'Fashion-MNIST test sample',
    count,
    width: test.width,
    height: test.height,
    channels: 1,
    file: PIXEL_FILE,
    labelNames: [...FASHION_MNIST_CLASS_NAMES],
    labels,
    testIndex: Array.from(testIndex),
    source:
      `Fashion-MNIST t10k test set (https://github.com/zalandoresearch/fashion-mnist), read from the Debian package ` +
      `dataset-fashion-mnist; ${PER_CLASS} images per class drawn with seed ${SEED} by scripts/make-sample.ts`,
    licence: 'MIT',
    attribution: ATTRIBUTION,
  };

  mkdirSync(OUT_DIR, { recursive: true });
  writeFileSync(join(OUT_DIR, PIXEL_FILE), images);
  writeFileSync(join(OUT_DIR, 'manifest.json'), JSON.stringify(manifest) + '\n');
  writeFileSync(join(OUT_DIR, 'README.md'), readme(count));
  console.log(`wrote ${count} images (${PER_CLASS} per class, seed ${SEED}) to ${OUT_DIR}`);
}

function readme(count: number): string {
  return `# Bundled sample: Fashion-MNIST test images

\`${PIXEL_FILE}\` holds ${count} greyscale 28 x 28 images from the Fashion-MNIST **test** set
(${PER_CLASS} per class, shuffled), as raw bytes: image after image, row-major, 0 = background.
\`manifest.json\` gives the class names, the label of each image and \`testIndex\`, its index in the
original 10,000-image t10k set.

Regenerate with \`npm run make-sample\` (needs \`apt-get install dataset-fashion-mnist\`); the draw is
seeded (seed ${SEED}), so the output is byte-for-byte the same.

## Attribution and licence

${ATTRIBUTION}.

Han Xiao, Kashif Rasul, Roland Vollgraf. *Fashion-MNIST: a Novel Image Dataset for Benchmarking
Machine Learning Algorithms.* arXiv:1708.07747, 2017. https://github.com/zalandoresearch/fashion-mnist

The Fashion-MNIST data is released under the MIT licence:

> The MIT License (MIT). Copyright (c) 2017 Zalando SE, https://tech.zalando.com
>
> Permission is hereby granted, free of charge, to any person obtaining a copy of this software and
> associated documentation files (the "Software"), to deal in the Software without restriction,
> including without limitation the rights to use, copy, modify, merge, publish, distribute,
> sublicense, and/or sell copies of the Software, and to permit persons to whom the Software is
> furnished to do so, subject to the following conditions:
>
> The above copyright notice and this permission notice shall be included in all copies or
> substantial portions of the Software.
>
> THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR IMPLIED, INCLUDING BUT
> NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY, FITNESS FOR A PARTICULAR PURPOSE AND
> NONINFRINGEMENT. IN NO EVENT SHALL THE AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES
> OR OTHER LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM, OUT OF OR IN
> CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE SOFTWARE.
`;
}

main();
