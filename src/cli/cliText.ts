import type { InputError } from '../compute/atlas';

/** A flag's whole-number value of at least `min`, or an error that names the flag and what it got. */
export function wholeNumber(value: string, flag: string, min: number): number {
  const v = Number(value);
  if (value.trim() === '' || !Number.isInteger(v) || v < min) throw new Error(`${flag} must be a whole number of at least ${min}; got "${value}".`);
  return v;
}

/** What every command says on stderr after its work: its notices, then the inputs it skipped and why. */
export function printNotes(notices: readonly string[], skipped: readonly InputError[]): void {
  for (const notice of notices) process.stderr.write(`note: ${notice}\n`);
  if (skipped.length) {
    process.stderr.write(`skipped ${skipped.length} input(s) that could not be read:\n`);
    for (const e of skipped) process.stderr.write(`  ${e.name}: ${e.reason}\n`);
  }
}
