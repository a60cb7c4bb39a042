/**
 * The user's text as documents, and documents as the token windows the model reads. Pure: no DOM, no
 * file system; the page and the CLI hand in bytes and paths.
 */
import type { InputError } from '../../compute/atlas';
import { labelsFromPaths } from '../../lib/inputFiles';
import { EOT } from './tokenizer';

/** One document to record: its text, the name it is listed by, and its label where known. */
export interface TextDocument {
  name: string;
  text: string;
  label: string | null;
  /** The document's place among all of a recording's documents when it is split into shards; default: its index. */
  ordinal?: number;
}

/** A file the user gave, by its path relative to what they picked (sub-folders name labels, as for images). */
export interface TextFile {
  path: string;
  bytes: Uint8Array | ArrayBuffer;
}

/** Documents that could be read, and the files or lines that could not (the rest still go through). */
export interface DocumentsRead {
  documents: TextDocument[];
  errors: InputError[];
}

/** Past this many bad lines in one .jsonl file, the rest are counted in one entry. */
const MAX_LINE_ERRORS = 20;
/** A file with more control characters than this share of its characters is taken for binary. */
const MAX_CONTROL_SHARE = 0.05;

/**
 * Documents from files: a `.txt` gives one document per blank-line-separated paragraph, a `.jsonl` one per
 * line (its `text` field, with `label` if present). A file in a sub-folder is labelled by the folder.
 */
export function documentsFromFiles(files: readonly TextFile[]): DocumentsRead {
  const folderLabels = labelsFromPaths(files.map((f) => f.path));
  const documents: TextDocument[] = [];
  const errors: InputError[] = [];
  files.forEach((file, f) => {
    const kind = textKind(file.path);
    if (!kind) {
      errors.push({ name: file.path, reason: 'not a text file: only .txt and .jsonl are read' });
      return;
    }
    const text = decodeText(file.bytes);
    if (typeof text !== 'string') {
      errors.push({ name: file.path, reason: text.problem });
      return;
    }
    const read = kind === 'txt' ? paragraphDocuments(text, file.path, folderLabels[f]) : jsonlDocuments(text, file.path, folderLabels[f]);
    documents.push(...read.documents);
    errors.push(...read.errors);
  });
  return { documents, errors };
}

/** Documents from pasted text: one per blank-line-separated paragraph. */
export function documentsFromText(text: string, name = 'pasted text'): DocumentsRead {
  return paragraphDocuments(text, name, null);
}

/** The paragraphs of a text: runs of lines separated by blank (or whitespace-only) lines, trimmed. */
export function paragraphs(text: string): string[] {
  return text
    .replace(/\r\n?/g, '\n')
    .split(/\n[ \t\f\v]*\n/)
    .map((p) => p.trim())
    .filter((p) => p.length > 0);
}

/**
 * The windows a document's tokens are read in: each starts with `<|endoftext|>` and holds up to
 * `contextLength - 1` of the document's tokens, consecutively; a document that fits gives one window.
 */
export function windows(tokens: ArrayLike<number>, contextLength: number): Int32Array[] {
  if (!Number.isInteger(contextLength) || contextLength < 2) throw new RangeError(`A context of ${contextLength} tokens leaves no room for text.`);
  const step = contextLength - 1;
  const out: Int32Array[] = [];
  for (let start = 0; start < tokens.length; start += step) {
    const end = Math.min(tokens.length, start + step);
    const ids = new Int32Array(1 + end - start);
    ids[0] = EOT;
    for (let t = start; t < end; t++) ids[1 + t - start] = tokens[t];
    out.push(ids);
  }
  return out;
}

/** What the user is told when documents did not fit the context. */
export function splitNotice(splitDocuments: number, windowCount: number, contextLength: number): string {
  const documents = splitDocuments === 1 ? '1 document was' : `${splitDocuments.toLocaleString('en')} documents were`;
  return `${documents} longer than the model's context of ${contextLength.toLocaleString('en')} tokens and ${splitDocuments === 1 ? 'was' : 'were'} split into ${windowCount.toLocaleString('en')} windows, each starting with <|endoftext|>.`;
}

function textKind(path: string): 'txt' | 'jsonl' | null {
  const match = /\.(txt|jsonl)$/i.exec(path);
  return match ? (match[1].toLowerCase() as 'txt' | 'jsonl') : null;
}

/** The file's text, or why it is not text: NUL bytes, invalid UTF-8 or mostly control characters (a binary file). */
function decodeText(bytes: Uint8Array | ArrayBuffer): string | { problem: string } {
  const data = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  if (data.includes(0)) return { problem: 'a binary file, not text (it holds NUL bytes)' };
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(data);
  } catch {
    return { problem: 'not UTF-8 text (a binary file, or another encoding: save it as UTF-8)' };
  }
  // C0 controls other than tab, line feed, vertical tab, form feed and carriage return, and DEL.
  const controls = text.match(/[\x01-\x08\x0e-\x1f\x7f]/g)?.length ?? 0;
  if (controls > MAX_CONTROL_SHARE * text.length) return { problem: `a binary file, not text (${controls} of its ${text.length} characters are control characters)` };
  return text;
}

function paragraphDocuments(text: string, name: string, label: string | null): DocumentsRead {
  const found = paragraphs(text);
  if (found.length === 0) return { documents: [], errors: [{ name, reason: 'empty: it holds no text' }] };
  const documents = found.map((p, k) => ({ name: found.length === 1 ? name : `${name}, paragraph ${k + 1}`, text: p, label }));
  return { documents, errors: [] };
}

function jsonlDocuments(text: string, name: string, folderLabel: string | null): DocumentsRead {
  const documents: TextDocument[] = [];
  const errors: InputError[] = [];
  let badLines = 0;
  text.split(/\r?\n/).forEach((line, k) => {
    if (line.trim() === '') return;
    const lineName = `${name}, line ${k + 1}`;
    const read = jsonlLine(line);
    if (typeof read === 'string') {
      if (++badLines <= MAX_LINE_ERRORS) errors.push({ name: lineName, reason: read });
      return;
    }
    documents.push({ name: lineName, text: read.text, label: read.label ?? folderLabel });
  });
  if (badLines > MAX_LINE_ERRORS) errors.push({ name, reason: `${badLines - MAX_LINE_ERRORS} more lines could not be read` });
  if (documents.length === 0 && badLines === 0) errors.push({ name, reason: 'empty: it holds no lines' });
  return { documents, errors };
}

/** One .jsonl line's document, or why it has none. */
function jsonlLine(line: string): { text: string; label: string | null } | string {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (e) {
    return `not JSON (${(e as Error).message})`;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'not a JSON object with a "text" field';
  const { text, label } = value as Record<string, unknown>;
  if (typeof text !== 'string') return text === undefined ? 'no "text" field' : `"text" is not a string but ${JSON.stringify(text)?.slice(0, 40)}`;
  if (text.trim() === '') return 'empty "text"';
  if (label !== undefined && label !== null && typeof label !== 'string' && typeof label !== 'number') return '"label" is neither a string nor a number';
  return { text, label: label === undefined || label === null ? null : String(label) };
}
