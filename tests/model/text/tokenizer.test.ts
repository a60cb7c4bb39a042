import { decode } from 'gpt-tokenizer/encoding/r50k_base';
import { describe, expect, it } from 'vitest';
import { encode, EOT, EOT_TEXT, GPT2_VOCAB_SIZE, tokenContext, tokenTexts } from '../../../src/model/text/tokenizer';

describe('GPT-2 tokenizer', () => {
  it('gives the ids of OpenAI GPT-2 (r50k_base)', () => {
    expect(Array.from(encode('Hello world'))).toEqual([15496, 995]);
    // Well-known GPT-2 ids: "The" 464, " the" 262, "," 11, "." 13, "\n" 198, " " 220.
    expect(Array.from(encode('The the, the.\n'))).toEqual([464, 262, 11, 262, 13, 198]);
    expect(tokenTexts([464, 262, 11, 13, 198, 220])).toEqual(['The', ' the', ',', '.', '\n', ' ']);
    expect(encode('Call me Ishmael.')).toBeInstanceOf(Int32Array);
    expect(EOT).toBe(50256);
    expect(GPT2_VOCAB_SIZE).toBe(50257);
    expect(decode([EOT])).toBe(EOT_TEXT);
  });

  it('reads <|endoftext|> written in a document as ordinary text, never as the special token', () => {
    const ids = Array.from(encode('a <|endoftext|> b'));
    expect(ids).not.toContain(EOT);
    expect(tokenTexts(ids).join('')).toBe('a <|endoftext|> b');
  });

  it('gives each token its own text, which concatenates back to the document', () => {
    const text = 'It is a way I have of driving off the spleen,\n\tand regulating the circulation. Café 1851!';
    const ids = encode(text);
    const texts = tokenTexts(ids);
    expect(texts).toHaveLength(ids.length);
    expect(texts.slice(0, 3)).toEqual(['It', ' is', ' a']);
    expect(texts.join('')).toBe(text);
    expect(tokenTexts([EOT, 198])).toEqual([EOT_TEXT, '\n']);
  });

  it('shows a token that holds part of a UTF-8 character as U+FFFD, whatever was decoded before', () => {
    const ids = Array.from(encode('日本'));
    expect(ids.length).toBeGreaterThan(2); // GPT-2 splits these characters across byte tokens
    const alone = ids.map((id) => tokenTexts([id])[0]);
    expect(tokenTexts(ids)).toEqual(alone);
    expect(tokenTexts([...ids].reverse())).toEqual([...alone].reverse());
    expect(alone.every((t) => t.includes('\uFFFD'))).toBe(true);
    // A whole emoji in one token decodes normally.
    expect(tokenTexts(encode(' 🙂'))).toEqual([' 🙂']);
  });

  it('refuses an id outside the vocabulary', () => {
    expect(() => tokenTexts([GPT2_VOCAB_SIZE])).toThrow(/outside the GPT-2 vocabulary of 50257/);
    expect(() => tokenTexts([-1])).toThrow(RangeError);
  });

  it('marks a token in the context leading to it, without the window\'s <|endoftext|>', () => {
    const ids = [EOT, ...encode('Call me Ishmael. Some years ago')];
    expect(tokenContext(ids, 2, 8)).toEqual({ token: ' me', context: 'Call[ me]' });
    expect(tokenContext(Int32Array.from(ids), 8, 2)).toEqual({ token: ' years', context: '. Some[ years]' });
  });
});
