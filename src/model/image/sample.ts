import * as v from 'valibot';
import { issuePath } from '../../lib/validate';

/** The bundled labelled image sample (Fashion-MNIST test images), decoded and validated. */
export interface Sample {
  width: number;
  height: number;
  channels: 1;
  labelNames: string[];
  /** Class index per image, into labelNames. */
  labels: Int32Array;
  /** count x height x width grey bytes, row-major, 0 = background. */
  images: Uint8Array;
  count: number;
}

function fail(message: string): never {
  throw new Error(`Invalid sample manifest: ${message}`);
}

const positiveInt = (key: string) => {
  const message = (issue: v.BaseIssue<unknown>) => `"${key}" must be a positive integer, got ${JSON.stringify(issue.input)}`;
  return v.pipe(v.number(message), v.safeInteger(message), v.minValue(1, message));
};

const fileMessage = '"file" must name the pixel file';
const kindOf = (value: unknown) => (value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value);

/** public/sample/manifest.json; each message names its field, as the page and the CLI show it. */
const manifestSchema = v.object(
  {
    count: positiveInt('count'),
    width: positiveInt('width'),
    height: positiveInt('height'),
    channels: v.literal(1, (issue) => `"channels" must be 1 (greyscale), got ${JSON.stringify(issue.input)}`),
    /** The pixel file beside the manifest. */
    file: v.optional(v.pipe(v.string(fileMessage), v.nonEmpty(fileMessage))),
    labelNames: v.pipe(v.array(v.string()), v.minLength(1)),
    /** Checked one by one against labelNames below, to say which entry is wrong. */
    labels: v.array(v.unknown(), '"labels" must be an array of class indices'),
  },
  (issue) => `"${issuePath(issue)}" is missing`,
);

export type SampleManifest = v.InferOutput<typeof manifestSchema>;

/** The manifest's fields checked one by one (not yet against the pixel bytes); the error names the first bad field. */
export function readSampleManifest(manifest: unknown): SampleManifest {
  // valibot takes an array for an object.
  if (typeof manifest !== 'object' || manifest === null || Array.isArray(manifest)) fail(`expected a JSON object, got ${kindOf(manifest)}`);
  const result = v.safeParse(manifestSchema, manifest, { abortEarly: true });
  if (result.success) return result.output;
  const [issue] = result.issues;
  const field = issuePath(issue);
  // Any problem inside labelNames reads as the one rule it breaks.
  fail(field.startsWith('labelNames') ? '"labelNames" must be a non-empty array of strings' : issue.message);
}

/**
 * Checks a sample manifest (public/sample/manifest.json) against its pixel bytes and returns the
 * sample. `images` is a view of `bytes`, not a copy.
 */
export function parseSample(manifest: unknown, bytes: Uint8Array): Sample {
  const { count, width, height, labelNames, labels: rawLabels } = readSampleManifest(manifest);
  if (rawLabels.length !== count) fail(`"labels" has ${rawLabels.length} entries but "count" is ${count}`);
  const labels = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    const label = rawLabels[i];
    if (typeof label !== 'number' || !Number.isInteger(label) || label < 0 || label >= labelNames.length) {
      fail(`labels[${i}] = ${JSON.stringify(label)} is not a class index in 0..${labelNames.length - 1}`);
    }
    labels[i] = label;
  }

  const expectedBytes = count * width * height;
  if (bytes.length !== expectedBytes) {
    fail(`pixel file has ${bytes.length} bytes, expected ${expectedBytes} (${count} x ${height} x ${width})`);
  }
  return { width, height, channels: 1, labelNames, labels, images: bytes, count };
}
