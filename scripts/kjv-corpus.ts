/**
 * Writes the King James Bible (public domain) as a text corpus for `npm run atlas -- --text`: one paragraph
 * per chapter, its verses joined by spaces, each after its number as printed editions set it, chapters
 * separated by a blank line (a `.txt` is read as one document per blank-line-separated paragraph). The text
 * comes from Debian's `bible-kjv` package, whose `bible` command prints every verse: 4.2 MB, 1,189 chapters
 * and about 1,023,000 GPT-2 tokens (992,000 with `--plain`, which leaves the verse numbers out), so it is
 * written outside the repository and never committed.
 *
 * Usage: npm run corpus:kjv -- [--out /tmp/kjv.txt] [--plain]   (needs `apt-get install bible-kjv`)
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { messageOf } from '../src/lib/errors';

const DEFAULT_OUT = '/tmp/kjv.txt';
/** Every verse from Genesis 1:1 to the last, as `bible` names the range. */
const WHOLE_BIBLE = 'Gen1:1-Rev22:21';
/** `bible -f` (pretty-printing off) prints one verse a line: its reference, e.g. `1Cor13:4`, a space, the text. */
const VERSE = /^(\d?[A-Za-z]+)(\d+):(\d+) (.*)$/;

/** One chapter: its reference (book abbreviation and number, e.g. `Ge1`) and its verses in order. */
export interface Chapter {
  reference: string;
  verses: { number: number; text: string }[];
}

/** Chapters from `bible -f` output, in reading order; a line that is not a verse stops it with its number. */
export function chaptersFromVerses(listing: string): Chapter[] {
  const chapters: Chapter[] = [];
  listing.split('\n').forEach((line, index) => {
    if (line.trim().length === 0) return;
    const match = VERSE.exec(line);
    if (!match) throw new Error(`bible printed line ${index + 1} that is not a verse: ${JSON.stringify(line.slice(0, 80))}`);
    const reference = `${match[1]}${match[2]}`;
    const verse = { number: Number(match[3]), text: match[4].trim() };
    const last = chapters[chapters.length - 1];
    if (last?.reference === reference) last.verses.push(verse);
    else chapters.push({ reference, verses: [verse] });
  });
  return chapters;
}

/** The corpus text: one line per chapter, a blank line between chapters; verses after their numbers unless `plain`. */
export function corpusText(chapters: readonly Chapter[], plain = false): string {
  const verse = (v: Chapter['verses'][number]) => (plain ? v.text : `${v.number} ${v.text}`);
  return chapters.map((c) => c.verses.map(verse).join(' ')).join('\n\n') + '\n';
}

/** Every verse as `bible -f` prints it (needs Debian's bible-kjv). */
export function bibleListing(): string {
  return execFileSync('bible', ['-f', WHOLE_BIBLE], { encoding: 'utf8', maxBuffer: 64 * 2 ** 20 });
}

function main(): void {
  const args = process.argv.slice(2);
  const at = args.indexOf('--out');
  const out = resolve(at >= 0 && args[at + 1] ? args[at + 1] : DEFAULT_OUT);
  let listing: string;
  try {
    listing = bibleListing();
  } catch (error) {
    console.error(`Could not run \`bible\` (Debian: apt-get install bible-kjv): ${messageOf(error)}`);
    process.exit(1);
  }
  const chapters = chaptersFromVerses(listing);
  const text = corpusText(chapters, args.includes('--plain'));
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, text);
  const verses = chapters.reduce((n, c) => n + c.verses.length, 0);
  console.log(`${out}: ${Buffer.byteLength(text).toLocaleString('en')} bytes, ${chapters.length.toLocaleString('en')} documents (chapters), ${verses.toLocaleString('en')} verses`);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main();
