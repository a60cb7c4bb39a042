import { base64ToBytes } from '../lib/base64';

const PAGE_BYTES = 65536;
const compiled = new Map<string, WebAssembly.Module | null>();

/**
 * A compiled kernel module from its base64 binary (src/compute/wasm/*.wasm.ts), compiled once, or null where
 * the runtime has no WebAssembly or no 128-bit SIMD; callers then take their JavaScript path.
 */
export function kernelModule(binary: string): WebAssembly.Module | null {
  let module = compiled.get(binary);
  if (module === undefined) {
    module = null;
    if (typeof WebAssembly === 'object') {
      const bytes = base64ToBytes(binary);
      if (WebAssembly.validate(bytes)) module = new WebAssembly.Module(bytes);
    }
    compiled.set(binary, module);
  }
  return module;
}

/** A fresh instance of a kernel module whose memory holds at least `bytes`. */
export function instantiateKernels<T extends { memory: WebAssembly.Memory }>(module: WebAssembly.Module, bytes: number): T {
  const exports = new WebAssembly.Instance(module).exports as unknown as T;
  const pages = Math.ceil(bytes / PAGE_BYTES) - exports.memory.buffer.byteLength / PAGE_BYTES;
  if (pages > 0) exports.memory.grow(pages);
  return exports;
}
