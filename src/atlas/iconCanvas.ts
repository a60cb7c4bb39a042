import type { CachedIcon } from '../featureVis/cache';

/** A finished feature visualisation as a canvas, ready to draw into the level textures and the PNG export. */
export function iconCanvas(icon: CachedIcon): HTMLCanvasElement {
  const canvas = document.createElement('canvas');
  canvas.width = icon.width;
  canvas.height = icon.height;
  const rgba = new Uint8ClampedArray(icon.rgba.buffer as ArrayBuffer, icon.rgba.byteOffset, icon.rgba.byteLength);
  canvas.getContext('2d')!.putImageData(new ImageData(rgba, icon.width, icon.height), 0, 0);
  return canvas;
}
