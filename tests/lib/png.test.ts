import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { encodePng } from '../../src/lib/png';

const pixels = (width: number, height: number, channels: 1 | 2 | 3 | 4) =>
  Uint8Array.from({ length: width * height * channels }, (_, i) => (i * 37 + Math.floor(i / (width * channels)) * 11) & 255);

describe('encodePng', () => {
  it.each([1, 2, 3, 4] as const)('writes a PNG of %i channel(s) that decodes to the same pixels', async (channels) => {
    const [width, height] = [29, 17];
    const data = pixels(width, height, channels);
    const png = await encodePng({ width, height, channels, data });
    expect((await sharp(png).metadata()).channels).toBe(channels);
    // sharp hands grey out as RGB: each grey byte thrice, then alpha.
    const decoded = await sharp(png).raw().toBuffer({ resolveWithObject: true });
    expect(decoded.info).toMatchObject({ width, height });
    const expected = channels >= 3 ? data : Uint8Array.from({ length: width * height * decoded.info.channels }, (_, i) => {
      const [p, c] = [Math.floor(i / decoded.info.channels), i % decoded.info.channels];
      return c < 3 ? data[p * channels] : data[p * channels + 1];
    });
    expect(Uint8Array.from(decoded.data)).toEqual(expected);
  });

  it('keeps grey thumbnails one byte a pixel, and compresses a flat image', async () => {
    const png = await encodePng({ width: 28, height: 28, channels: 1, data: new Uint8Array(28 * 28) });
    expect((await sharp(png).metadata()).channels).toBe(1);
    expect(png.length).toBeLessThan(200);
  });

  it('refuses pixels that do not fill the image', async () => {
    await expect(encodePng({ width: 4, height: 4, channels: 3, data: new Uint8Array(10) })).rejects.toThrow(/10 bytes, expected 4x4x3/);
  });
});
