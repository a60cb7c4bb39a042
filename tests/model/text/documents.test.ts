import { describe, expect, it } from 'vitest';
import { documentsFromFiles, documentsFromText, paragraphs, splitNotice, windows, type TextFile } from '../../../src/model/text/documents';
import { EOT } from '../../../src/model/text/tokenizer';

const file = (path: string, text: string): TextFile => ({ path, bytes: new TextEncoder().encode(text) });

describe('paragraphs', () => {
  it('splits on blank lines (whitespace-only ones too), keeps line breaks inside a paragraph, and trims', () => {
    const text = 'Call me Ishmael.\r\nSome years ago.\r\n\r\n  Whenever I find myself  \n \t \nGrowing grim.\n\n\n';
    expect(paragraphs(text)).toEqual(['Call me Ishmael.\nSome years ago.', 'Whenever I find myself', 'Growing grim.']);
    expect(paragraphs(' \n\n \n')).toEqual([]);
  });
});

describe('documentsFromFiles', () => {
  it('gives one document per paragraph of a .txt, named by file and paragraph, labelled by the sub-folder', () => {
    const read = documentsFromFiles([file('corpus/poems/a.txt', 'One.\n\nTwo.'), file('corpus/prose/b.txt', 'Only paragraph.')]);
    expect(read.errors).toEqual([]);
    expect(read.documents).toEqual([
      { name: 'corpus/poems/a.txt, paragraph 1', text: 'One.', label: 'poems' },
      { name: 'corpus/poems/a.txt, paragraph 2', text: 'Two.', label: 'poems' },
      { name: 'corpus/prose/b.txt', text: 'Only paragraph.', label: 'prose' },
    ]);
  });

  it("reads a .jsonl's text and label per line, listing bad lines by number while the rest go through", () => {
    const jsonl = [
      '{"text": "First.", "label": "narration"}',
      '',
      '{"text": "Second, with no label."}',
      '{"text": ',
      '{"title": "no text"}',
      '{"text": "   "}',
      '[1, 2]',
      '{"text": 7}',
      '{"text": "Numbered label.", "label": 3}',
    ].join('\n');
    const read = documentsFromFiles([file('dialogue/book.jsonl', jsonl)]);
    expect(read.documents).toEqual([
      { name: 'dialogue/book.jsonl, line 1', text: 'First.', label: 'narration' },
      { name: 'dialogue/book.jsonl, line 3', text: 'Second, with no label.', label: null },
      { name: 'dialogue/book.jsonl, line 9', text: 'Numbered label.', label: '3' },
    ]);
    expect(read.errors.map((e) => e.name)).toEqual([4, 5, 6, 7, 8].map((k) => `dialogue/book.jsonl, line ${k}`));
    expect(read.errors.map((e) => e.reason)).toEqual([
      expect.stringMatching(/^not JSON/),
      'no "text" field',
      'empty "text"',
      'not a JSON object with a "text" field',
      '"text" is not a string but 7',
    ]);
  });

  it('labels a .jsonl line without a label by its folder', () => {
    const read = documentsFromFiles([file('pos/a.jsonl', '{"text": "good"}'), file('neg/b.jsonl', '{"text": "bad", "label": "mixed"}')]);
    expect(read.documents.map((d) => d.label)).toEqual(['pos', 'mixed']);
  });

  it('lists the first bad lines of a .jsonl one by one and counts the rest', () => {
    const read = documentsFromFiles([file('noise.jsonl', Array.from({ length: 25 }, (_, k) => `line ${k}`).join('\n'))]);
    expect(read.documents).toEqual([]);
    expect(read.errors).toHaveLength(21);
    expect(read.errors[20]).toEqual({ name: 'noise.jsonl', reason: '5 more lines could not be read' });
  });

  it('rejects empty text, binary files and unknown extensions with a message per file; good files go through', () => {
    const png = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13]);
    const latin1 = new Uint8Array([0x43, 0x61, 0x66, 0xe9, 0x0a]);
    const controls = new TextEncoder().encode('ab\x01\x02\x03\x04cdefghijklmnop');
    const read = documentsFromFiles([
      file('empty.txt', ''),
      file('blank.txt', '  \n\n\t\n'),
      { path: 'image.txt', bytes: png },
      { path: 'latin1.txt', bytes: latin1.buffer },
      { path: 'controls.txt', bytes: controls },
      file('notes.md', '# Notes'),
      file('empty.jsonl', '\n\n'),
      file('good.txt', 'Good text.'),
    ]);
    expect(read.documents).toEqual([{ name: 'good.txt', text: 'Good text.', label: null }]);
    expect(read.errors).toEqual([
      { name: 'empty.txt', reason: 'empty: it holds no text' },
      { name: 'blank.txt', reason: 'empty: it holds no text' },
      { name: 'image.txt', reason: 'a binary file, not text (it holds NUL bytes)' },
      { name: 'latin1.txt', reason: expect.stringMatching(/^not UTF-8 text/) },
      { name: 'controls.txt', reason: 'a binary file, not text (4 of its 20 characters are control characters)' },
      { name: 'notes.md', reason: 'not a text file: only .txt and .jsonl are read' },
      { name: 'empty.jsonl', reason: 'empty: it holds no lines' },
    ]);
  });

  it('keeps tabs, form feeds and a UTF-8 byte-order mark out of the binary check', () => {
    const withBom = new Uint8Array([0xef, 0xbb, 0xbf, ...new TextEncoder().encode('Col\tumns\fpage')]);
    expect(documentsFromFiles([{ path: 'bom.TXT', bytes: withBom }]).documents).toEqual([{ name: 'bom.TXT', text: 'Col\tumns\fpage', label: null }]);
  });
});

describe('documentsFromText', () => {
  it('makes pasted text into paragraphs, and says when it is empty', () => {
    expect(documentsFromText('One.\n\nTwo.').documents.map((d) => d.name)).toEqual(['pasted text, paragraph 1', 'pasted text, paragraph 2']);
    expect(documentsFromText(' \n ').errors).toEqual([{ name: 'pasted text', reason: 'empty: it holds no text' }]);
  });
});

describe('windows', () => {
  it('prepends <|endoftext|> to a document that fits the context', () => {
    expect(windows([5, 6, 7], 8).map((w) => Array.from(w))).toEqual([[EOT, 5, 6, 7]]);
    expect(windows([1, 2, 3, 4, 5, 6, 7], 8).map((w) => Array.from(w))).toEqual([[EOT, 1, 2, 3, 4, 5, 6, 7]]);
  });

  it('splits a longer document into consecutive windows, each starting with <|endoftext|>', () => {
    const tokens = Array.from({ length: 10 }, (_, k) => 100 + k);
    const split = windows(Int32Array.from(tokens), 4).map((w) => Array.from(w));
    expect(split).toEqual([
      [EOT, 100, 101, 102],
      [EOT, 103, 104, 105],
      [EOT, 106, 107, 108],
      [EOT, 109],
    ]);
    expect(split.flatMap((w) => w.slice(1))).toEqual(tokens);
  });

  it('gives no window for no tokens, and refuses a context with no room for text', () => {
    expect(windows([], 8)).toEqual([]);
    expect(() => windows([1], 1)).toThrow(/leaves no room/);
  });

  it('says how many documents were split into how many windows', () => {
    expect(splitNotice(3, 8, 256)).toBe("3 documents were longer than the model's context of 256 tokens and were split into 8 windows, each starting with <|endoftext|>.");
    expect(splitNotice(1, 2, 1024)).toMatch(/^1 document was longer than the model's context of 1,024 tokens and was split into 2 windows/);
  });
});
