/**
 * GPT-2's byte-level BPE (OpenAI's r50k_base encoding), from the npm package `gpt-tokenizer`, which ships
 * the vocabulary: "Hello world" -> [15496, 995], `<|endoftext|>` -> 50256.
 */
import ranks from 'gpt-tokenizer/bpeRanks/r50k_base';
import { encode as encodeR50k } from 'gpt-tokenizer/encoding/r50k_base';

/** `<|endoftext|>`: GPT-2 saw it between documents, so every window starts with it. */
export const EOT = 50256;
export const EOT_TEXT = '<|endoftext|>';
/** 50,000 merges, 256 bytes and `<|endoftext|>`. */
export const GPT2_VOCAB_SIZE = 50257;

/** `<|endoftext|>` written in a document is ordinary text here; only the recorder inserts the real token. */
const PLAIN_TEXT = { disallowedSpecial: new Set<string>() };

/** The GPT-2 token ids of a text. */
export function encode(text: string): Int32Array {
  return Int32Array.from(encodeR50k(text, PLAIN_TEXT));
}

/** A fresh, non-streaming decoder per call: a lone partial UTF-8 sequence becomes U+FFFD. */
const decodeBytes = (bytes: number[]) => new TextDecoder('utf-8').decode(Uint8Array.from(bytes));

/**
 * The text of each token on its own. A token holding part of a multi-byte UTF-8 character (GPT-2 splits
 * some emoji and CJK characters across tokens) shows its incomplete bytes as U+FFFD. The package's own
 * `decode` is not used per token: it keeps a partial character in a shared streaming decoder, so what
 * a token decodes to would depend on the tokens decoded before it.
 */
export function tokenTexts(ids: ArrayLike<number>): string[] {
  return Array.from(ids, (id) => {
    if (id === EOT) return EOT_TEXT;
    const entry = Number.isInteger(id) ? ranks[id] : undefined;
    if (entry === undefined) throw new RangeError(`Token id ${id} is outside the GPT-2 vocabulary of ${GPT2_VOCAB_SIZE}.`);
    return typeof entry === 'string' ? entry : decodeBytes(entry);
  });
}

/** The text of a token sequence: its bytes decoded as UTF-8 together, so characters split across tokens join up. */
export function decode(ids: ArrayLike<number>): string {
  const utf8 = new TextEncoder();
  const bytes: number[] = [];
  for (const id of Array.from(ids)) {
    const entry = id === EOT ? EOT_TEXT : Number.isInteger(id) ? ranks[id] : undefined;
    if (entry === undefined) throw new RangeError(`Token id ${id} is outside the GPT-2 vocabulary of ${GPT2_VOCAB_SIZE}.`);
    bytes.push(...(typeof entry === 'string' ? utf8.encode(entry) : entry));
  }
  return decodeBytes(bytes);
}

/**
 * The token at `t` of a window (`<|endoftext|>` first) with up to `before` tokens leading to it, the token marked:
 * "…Call me [Ishmael]". The leading `<|endoftext|>` is left out.
 */
export function tokenContext(ids: Int32Array | Uint32Array | number[], t: number, before: number): { token: string; context: string } {
  const texts = tokenTexts(ids.slice(Math.max(1, t - before), t + 1));
  const token = texts.pop()!;
  return { token, context: `${texts.join('')}[${token}]` };
}
