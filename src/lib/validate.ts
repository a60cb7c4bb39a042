import * as v from 'valibot';

/** Where a schema issue is, as a reader would write it: `levels[0].cells[3].mean`. */
export function issuePath(issue: v.BaseIssue<unknown>): string {
  let path = '';
  for (const item of issue.path ?? []) {
    const key = item.key as string | number;
    path += typeof key === 'number' ? `[${key}]` : path ? `.${key}` : key;
  }
  return path || '(top level)';
}

/** A failed parse's first problems as `path: message; ...`, saying how many more there are. */
export function describeIssues(issues: readonly v.BaseIssue<unknown>[], shown = 3): string {
  const listed = issues.slice(0, shown).map((i) => `${issuePath(i)}: ${i.message}`);
  const more = issues.length > shown ? ` (and ${issues.length - shown} more problems)` : '';
  return `${listed.join('; ')}${more}`;
}

/** The schema's output, or the error `fail` makes from the problems (`path: message; ...`). */
export function parseOrFail<S extends v.GenericSchema>(schema: S, raw: unknown, fail: (problems: string) => Error): v.InferOutput<S> {
  const result = v.safeParse(schema, raw);
  if (result.success) return result.output;
  throw fail(describeIssues(result.issues));
}

/** A typed whole number from `min` to `max`, or an error that names the field (a flag, a box) and what it got. */
export function wholeNumber(value: string, name: string, min: number, max = Infinity): number {
  const v = Number(value);
  if (value.trim() === '' || !Number.isInteger(v) || v < min || v > max) {
    throw new Error(`${name} must be a whole number ${max === Infinity ? `of at least ${min}` : `from ${min} to ${max}`}; got "${value}".`);
  }
  return v;
}

/** A typed finite number, or an error that names the field and what it got. */
export function finiteNumber(value: string, name: string): number {
  const v = Number(value);
  if (value.trim() === '' || !Number.isFinite(v)) throw new Error(`${name} must be a number; got "${value}".`);
  return v;
}
