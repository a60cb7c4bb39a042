/**
 * The texts of the sea-concept experiment (issue 20; bench/results/steer-ablate-sea-*.txt): the built-in sample's
 * Moby-Dick paragraphs (held out from the built-in GPT-2's training) split by a fixed word list into paragraphs about
 * the sea (3 or more hits) and paragraphs with none, each side alternately into a half that teaches the concept and
 * a half held out to measure it on. Writes bench/out/sea/{sea,other}-{concept,held-out}.txt, one paragraph per
 * blank-line-separated block, and prints the counts.
 *
 *   node --import tsx bench/seaTexts.ts
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The words that mark a paragraph as being about the sea; the experiment passes the same list to `npm run steer -- --watch`. */
export const SEA_WORDS = ['sea', 'seas', 'ocean', 'waves', 'wave', 'water', 'waters', 'ship', 'ships', 'boat', 'boats', 'sail', 'sailor', 'sailors', 'deck', 'shore', 'tide'];
const MIN_HITS = 3;

const sample = fileURLToPath(new URL('../public/text-sample/moby-dick-sample.jsonl', import.meta.url));
const out = fileURLToPath(new URL('./out/sea/', import.meta.url));
const pattern = new RegExp(`\\b(${SEA_WORDS.join('|')})\\b`, 'gi');

const paragraphs = readFileSync(sample, 'utf8')
  .split('\n')
  .filter((line) => line.trim() !== '')
  .map((line) => (JSON.parse(line) as { text: string }).text.replace(/\n\s*\n/g, '\n'));
const hits = (text: string) => text.match(pattern)?.length ?? 0;
const sides = { sea: paragraphs.filter((p) => hits(p) >= MIN_HITS), other: paragraphs.filter((p) => hits(p) === 0) };
mkdirSync(out, { recursive: true });
for (const [side, texts] of Object.entries(sides)) {
  const halves = { concept: texts.filter((_, k) => k % 2 === 0), 'held-out': texts.filter((_, k) => k % 2 === 1) };
  for (const [half, list] of Object.entries(halves)) {
    writeFileSync(`${out}${side}-${half}.txt`, `${list.join('\n\n')}\n`);
    process.stdout.write(`bench/out/sea/${side}-${half}.txt: ${list.length} paragraphs\n`);
  }
}
process.stdout.write(`of ${paragraphs.length} paragraphs: ${sides.sea.length} with ${MIN_HITS}+ of [${SEA_WORDS.join(' ')}], ${sides.other.length} with none\n`);
