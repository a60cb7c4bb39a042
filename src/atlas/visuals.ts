import type { Atlas } from '../export/atlasFile';
import { buildIconAtlas, type IconAtlas } from './iconAtlas';
import { exemplarIcons, type IconSource } from './iconSource';
import { decodeThumbnails } from './thumbnails';

/**
 * The CPU-side pictures of one atlas: decoded thumbnails, the icon source and one icon canvas per
 * grid level. The GPU textures made from the canvases belong to the layers that draw them.
 */
export class AtlasVisuals {
  private constructor(
    readonly atlas: Atlas,
    readonly thumbnails: (ImageBitmap | null)[],
    readonly icons: IconSource,
    private readonly iconAtlases: Map<number, IconAtlas>,
  ) {}

  /** Decodes the thumbnails and draws every level's icons; `onProgress` counts thumbnails, then levels. */
  static async load(atlas: Atlas, signal?: AbortSignal, onProgress?: (done: number, total: number) => void): Promise<AtlasVisuals> {
    const total = atlas.inputs.thumbnails.length + atlas.levels.length;
    const thumbnails = await decodeThumbnails(atlas.inputs.thumbnails, signal, (done) => onProgress?.(done, total));
    try {
      const icons = exemplarIcons(atlas, thumbnails);
      const iconAtlases = new Map<number, IconAtlas>();
      for (const level of atlas.levels) {
        iconAtlases.set(level.size, await buildIconAtlas(level, icons, 64, signal));
        onProgress?.(thumbnails.length + iconAtlases.size, total);
      }
      return new AtlasVisuals(atlas, thumbnails, icons, iconAtlases);
    } catch (e) {
      for (const t of thumbnails) t?.close();
      throw e;
    }
  }

  iconAtlas(gridSize: number): IconAtlas | null {
    return this.iconAtlases.get(gridSize) ?? null;
  }

  /** Frees the bitmaps and canvases; the visuals are unusable afterwards. */
  close(): void {
    for (const t of this.thumbnails) t?.close();
    for (const a of this.iconAtlases.values()) {
      a.canvas.width = 0;
      a.canvas.height = 0;
    }
    this.iconAtlases.clear();
  }
}
