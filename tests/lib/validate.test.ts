import { describe, expect, it } from 'vitest';
import { finiteNumber, wholeNumber } from '../../src/lib/validate';

describe('typed numbers', () => {
  it('a whole number within its bounds, or a message naming the field and what it got', () => {
    expect(wholeNumber('7', 'Tokens', 1, 200)).toBe(7);
    expect(wholeNumber(' 0 ', 'The seed', 0)).toBe(0);
    expect(() => wholeNumber('201', 'Tokens', 1, 200)).toThrow('Tokens must be a whole number from 1 to 200; got "201".');
    expect(() => wholeNumber('2.5', '--top', 2)).toThrow('--top must be a whole number of at least 2; got "2.5".');
    expect(() => wholeNumber('', '--k', 2)).toThrow('--k must be a whole number of at least 2; got "".');
  });

  it('a finite number, or a message', () => {
    expect(finiteNumber('-1.5e-1', 'α')).toBe(-0.15);
    for (const bad of ['', 'a lot', 'Infinity', 'NaN']) expect(() => finiteNumber(bad, 'α')).toThrow(`α must be a number; got "${bad}".`);
  });
});
