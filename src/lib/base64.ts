/** The native base64 codecs of newer engines (Chromium 140+, Node 25+), absent elsewhere: the fallbacks below do the same, slower. */
type NativeBase64 = {
  fromBase64?: (text: string) => Uint8Array<ArrayBuffer>;
};
type NativeToBase64 = { toBase64?: () => string };

/** Base64 of a Float32Array's little-endian bytes, for compact vectors inside JSON. */
export function encodeFloat32(values: Float32Array): string {
  return bytesToBase64(new Uint8Array(values.buffer, values.byteOffset, values.byteLength));
}

/** Base64 of raw bytes, in chunks so large buffers do not overflow the argument list. */
export function bytesToBase64(bytes: Uint8Array): string {
  const native = (bytes as NativeToBase64).toBase64;
  if (native) return native.call(bytes);
  const chunk = 0x8000;
  const parts: string[] = [];
  for (let i = 0; i < bytes.length; i += chunk) {
    parts.push(String.fromCharCode(...bytes.subarray(i, i + chunk)));
  }
  return btoa(parts.join(''));
}

/** Raw bytes of a base64 string, in a buffer of their own (so any typed array can view it). */
export function base64ToBytes(text: string): Uint8Array<ArrayBuffer> {
  if (typeof text !== 'string') throw new Error('expected a base64 string');
  const native = (Uint8Array as unknown as NativeBase64).fromBase64;
  if (native) return native(text);
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

export function decodeFloat32(text: string): Float32Array {
  const bytes = base64ToBytes(text);
  if (bytes.length % 4 !== 0) throw new Error('byte length is not a multiple of 4');
  return new Float32Array(bytes.buffer);
}
