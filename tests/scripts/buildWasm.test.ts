import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { describe, expect, it } from 'vitest';
import { compileWat, wasmModuleSource, watSources } from '../../scripts/build-wasm';

describe('WebAssembly kernels', () => {
  const sources = watSources();

  it('has the attention, distance and t-SNE kernel sources', () => {
    expect(sources.map((s) => basename(s)).sort()).toEqual(['attentionKernels.wat', 'distanceKernels.wat', 'tsneKernels.wat']);
  });

  it.each(sources.map((s) => [basename(s), s]))('%s: the committed module is the compiled source (run npm run build:wasm)', async (_, wat) => {
    const binary = await compileWat(wat);
    expect(WebAssembly.validate(binary as Uint8Array<ArrayBuffer>)).toBe(true);
    expect(readFileSync(wat.replace(/\.wat$/, '.wasm.ts'), 'utf8')).toBe(wasmModuleSource(wat, binary));
  });
});
