import { ICON_QUALITIES, type IconQuality } from '../featureVis/recipe';

/** Where the page keeps what the user chose across reloads (localStorage; nothing where there is none). */
const ICON_QUALITY_KEY = 'atlas-explorer.icon-quality';

/**
 * `use` on the page's localStorage, or `fallback` where there is none or it refuses (blocked storage throws on
 * access, a full one on writing): a preference is never a reason for the page not to start.
 */
function withStorage<T>(use: (storage: Storage) => T, fallback: T): T {
  try {
    return typeof localStorage === 'undefined' ? fallback : use(localStorage);
  } catch {
    return fallback;
  }
}

/** The icon quality picked last, or null (none picked, no storage, or a value this version does not know). */
export function storedIconQuality(): IconQuality | null {
  const kept = withStorage((s) => s.getItem(ICON_QUALITY_KEY), null);
  return ICON_QUALITIES.find((q) => q === kept) ?? null;
}

export function storeIconQuality(quality: IconQuality): void {
  withStorage((s) => s.setItem(ICON_QUALITY_KEY, quality), undefined);
}
