import { ICON_QUALITIES, type IconQuality } from '../featureVis/recipe';

/** Where the page keeps what the user chose across reloads (localStorage; nothing where there is none). */
const ICON_QUALITY_KEY = 'atlas-explorer.icon-quality';

const storage = (): Storage | null => (typeof localStorage === 'undefined' ? null : localStorage);

/** The icon quality picked last, or null (none picked, no storage, or a value this version does not know). */
export function storedIconQuality(): IconQuality | null {
  const kept = storage()?.getItem(ICON_QUALITY_KEY);
  return ICON_QUALITIES.find((q) => q === kept) ?? null;
}

export function storeIconQuality(quality: IconQuality): void {
  storage()?.setItem(ICON_QUALITY_KEY, quality);
}
