import type { Atlas } from '../compute/atlas';
import type { IconMode } from '../store';
import { buildIconAtlas, iconKey, type IconAtlas } from './iconAtlas';
import { rendererFor, type InputPreviews } from '../renderers';
import type { IconSource } from '../renderers/iconSource';
import { decodeSavedIcons } from './savedIcons';

/**
 * The CPU-side pictures of one atlas: its inputs' decoded previews, the icon source and each grid level's icon
 * canvases (tiles). The GPU textures made from the canvases belong to the layers that draw them.
 */
export class AtlasVisuals {
  /** Feature-visualisation icons that have arrived, keyed `${gridSize}:${i}:${j}` as Atlas.icons is. */
  readonly featureVisIcons = new Map<string, CanvasImageSource & { width: number; height: number }>();
  private mode: IconMode = 'exemplar';
  /** Tiles redrawn since the last refreshTextures, keyed `${gridSize}:${tile}`. */
  private readonly stale = new Set<string>();

  private constructor(
    readonly atlas: Atlas,
    readonly previews: InputPreviews,
    readonly exemplars: IconSource,
    private readonly iconAtlases: Map<number, IconAtlas>,
  ) {}

  /** The icon of each cell as currently shown: its feature visualisation where asked for and ready, else its exemplar. */
  readonly icons: IconSource = {
    draw: (ctx, cell, gridSize, x, y, size) => {
      const icon = this.mode === 'featureVis' ? this.featureVisIcons.get(`${gridSize}:${cell.i}:${cell.j}`) : undefined;
      if (!icon) return this.exemplars.draw(ctx, cell, gridSize, x, y, size);
      ctx.imageSmoothingEnabled = true;
      ctx.drawImage(icon, 0, 0, icon.width, icon.height, x, y, size, size);
    },
  };

  get iconMode(): IconMode {
    return this.mode;
  }

  /** Switches every level between exemplars and feature visualisations. */
  setIconMode(mode: IconMode): void {
    if (mode === this.mode) return;
    this.mode = mode;
    // Only cells with a feature visualisation look different in the two modes; a new atlas's often has none.
    if (!this.featureVisIcons.size) return;
    for (const level of this.atlas.levels) {
      const cells = level.cells.filter((c) => this.featureVisIcons.has(`${level.size}:${c.i}:${c.j}`));
      if (cells.length) this.redraw(level.size, cells);
    }
  }

  /** Drops every feature visualisation (another recipe's are coming): the cells show their exemplars meanwhile. */
  clearFeatureVisIcons(): void {
    const shown = new Set(this.featureVisIcons.keys());
    for (const icon of this.featureVisIcons.values()) if ('close' in icon) (icon as ImageBitmap).close();
    this.featureVisIcons.clear();
    if (this.mode !== 'featureVis') return;
    for (const level of this.atlas.levels) {
      const cells = level.cells.filter((c) => shown.has(`${level.size}:${c.i}:${c.j}`));
      if (cells.length) this.redraw(level.size, cells);
    }
  }

  /** Adds a finished feature visualisation; it shows once `refreshTextures` runs. */
  addFeatureVisIcon(key: string, gridSize: number, icon: CanvasImageSource & { width: number; height: number }): void {
    this.featureVisIcons.set(key, icon);
    if (this.mode !== 'featureVis') return;
    const [, i, j] = key.split(':').map(Number);
    const cell = this.atlas.levels.find((l) => l.size === gridSize)?.cells.find((c) => c.i === i && c.j === j);
    if (cell) this.redraw(gridSize, [cell]);
  }

  private redraw(gridSize: number, cells: Atlas['levels'][number]['cells']): void {
    const tiles = this.iconAtlases.get(gridSize);
    if (!tiles) return;
    for (const cell of cells) {
      const key = iconKey(cell);
      const t = tiles.findIndex((tile) => key in tile.mapping);
      const ctx = tiles[t]?.canvas.getContext('2d');
      if (!ctx) continue;
      const slot = tiles[t].mapping[key];
      ctx.clearRect(slot.x, slot.y, slot.width, slot.height);
      this.icons.draw(ctx, cell, gridSize, slot.x, slot.y, slot.width);
      this.stale.add(`${gridSize}:${t}`);
    }
  }

  /**
   * Gives each redrawn tile a fresh canvas: the icon layer uploads a texture when its canvas changes
   * identity, not when pixels change. Returns whether anything changed.
   */
  refreshTextures(): boolean {
    for (const stale of this.stale) {
      const [size, t] = stale.split(':').map(Number);
      const tiles = this.iconAtlases.get(size)!;
      const { canvas } = tiles[t];
      const copy = document.createElement('canvas');
      copy.width = canvas.width;
      copy.height = canvas.height;
      copy.getContext('2d', { willReadFrequently: true })!.drawImage(canvas, 0, 0);
      canvas.width = 0;
      tiles[t] = { ...tiles[t], canvas: copy };
    }
    const changed = this.stale.size > 0;
    this.stale.clear();
    return changed;
  }

  /** The computed feature visualisations as PNG data URLs, for the atlas JSON. */
  featureVisDataUrls(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [key, icon] of this.featureVisIcons) {
      const canvas = document.createElement('canvas');
      canvas.width = icon.width;
      canvas.height = icon.height;
      canvas.getContext('2d')!.drawImage(icon, 0, 0);
      out[key] = canvas.toDataURL('image/png');
    }
    return out;
  }

  /** Decodes the inputs' previews and draws every level's icons; `onProgress` counts inputs, then levels. */
  static async load(atlas: Atlas, signal?: AbortSignal, onProgress?: (done: number, total: number) => void): Promise<AtlasVisuals> {
    const renderer = rendererFor(atlas);
    const inputs = atlas.inputs.names.length;
    const total = inputs + atlas.levels.length;
    const previews = await renderer.loadPreviews(atlas, signal, (done) => onProgress?.(done, total));
    try {
      const icons = renderer.exemplarIcons(atlas, previews);
      const iconAtlases = new Map<number, IconAtlas>();
      for (const level of atlas.levels) {
        iconAtlases.set(level.size, await buildIconAtlas(level, icons, 64, signal));
        // Every input's preview is loaded by now; previews.count counts what a renderer keeps (a text atlas's distinct tokens).
        onProgress?.(inputs + iconAtlases.size, total);
      }
      const visuals = new AtlasVisuals(atlas, previews, icons, iconAtlases);
      await visuals.loadSavedIcons(atlas.icons ?? {});
      return visuals;
    } catch (e) {
      previews.close();
      throw e;
    }
  }

  /** Feature visualisations stored in an opened atlas file: inline images only, nothing is fetched. */
  private async loadSavedIcons(icons: Record<string, string>): Promise<void> {
    for (const [key, bitmap] of await decodeSavedIcons(icons, (blob) => createImageBitmap(blob))) this.featureVisIcons.set(key, bitmap);
  }

  /** A level's icon tiles as they are now: refreshTextures replaces a redrawn tile's canvas. */
  iconAtlas(gridSize: number): IconAtlas | null {
    return this.iconAtlases.get(gridSize) ?? null;
  }

  /** Frees the bitmaps and canvases; the visuals are unusable afterwards. */
  close(): void {
    this.previews.close();
    for (const icon of this.featureVisIcons.values()) if ('close' in icon) (icon as ImageBitmap).close();
    for (const tiles of this.iconAtlases.values()) {
      for (const { canvas } of tiles) {
        canvas.width = 0;
        canvas.height = 0;
      }
    }
    this.iconAtlases.clear();
  }
}
