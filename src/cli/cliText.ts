import type { InputError } from '../compute/atlas';

/** What every command says on stderr after its work: its notices, then the inputs it skipped and why. */
export function printNotes(notices: readonly string[], skipped: readonly InputError[]): void {
  for (const notice of notices) process.stderr.write(`note: ${notice}\n`);
  if (skipped.length) {
    process.stderr.write(`skipped ${skipped.length} input(s) that could not be read:\n`);
    for (const e of skipped) process.stderr.write(`  ${e.name}: ${e.reason}\n`);
  }
}
