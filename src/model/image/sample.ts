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

function positiveInt(manifest: Record<string, unknown>, key: string): number {
  const value = manifest[key];
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) {
    fail(`"${key}" must be a positive integer, got ${JSON.stringify(value)}`);
  }
  return value;
}

/**
 * Checks a sample manifest (public/sample/manifest.json) against its pixel bytes and returns the
 * sample. `images` is a view of `bytes`, not a copy.
 */
export function parseSample(manifest: unknown, bytes: Uint8Array): Sample {
  if (typeof manifest !== 'object' || manifest === null || Array.isArray(manifest)) {
    fail(`expected a JSON object, got ${manifest === null ? 'null' : Array.isArray(manifest) ? 'an array' : typeof manifest}`);
  }
  const m = manifest as Record<string, unknown>;
  const count = positiveInt(m, 'count');
  const width = positiveInt(m, 'width');
  const height = positiveInt(m, 'height');
  if (m.channels !== 1) fail(`"channels" must be 1 (greyscale), got ${JSON.stringify(m.channels)}`);

  const labelNames = m.labelNames;
  if (!Array.isArray(labelNames) || labelNames.length === 0 || !labelNames.every((n) => typeof n === 'string')) {
    fail('"labelNames" must be a non-empty array of strings');
  }

  const rawLabels = m.labels;
  if (!Array.isArray(rawLabels)) fail('"labels" must be an array of class indices');
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
  return { width, height, channels: 1, labelNames: labelNames as string[], labels, images: bytes, count };
}
