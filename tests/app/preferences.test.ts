import { afterEach, describe, expect, it } from 'vitest';
import { storedIconQuality, storeIconQuality } from '../../src/app/preferences';

/** A page's localStorage, as far as the preferences use it. */
function fakeStorage(): Storage {
  const items = new Map<string, string>();
  return { getItem: (k: string) => items.get(k) ?? null, setItem: (k: string, v: string) => void items.set(k, v) } as Storage;
}

const global = globalThis as { localStorage?: Storage };
afterEach(() => {
  delete global.localStorage;
});

describe('the preferences kept across reloads', () => {
  it('give back the icon quality stored last', () => {
    global.localStorage = fakeStorage();
    expect(storedIconQuality()).toBeNull();
    storeIconQuality('fast');
    storeIconQuality('best');
    expect(storedIconQuality()).toBe('best');
  });

  it('ignore a value this version does not know, and a page without storage', () => {
    global.localStorage = fakeStorage();
    global.localStorage.setItem('atlas-explorer.icon-quality', 'ultra');
    expect(storedIconQuality()).toBeNull();
    delete global.localStorage;
    expect(storedIconQuality()).toBeNull();
    expect(() => storeIconQuality('fast')).not.toThrow();
  });

  it('start without them where storage refuses: blocked on access, or full on writing', () => {
    Object.defineProperty(globalThis, 'localStorage', {
      configurable: true,
      get() {
        throw new DOMException('The operation is insecure.', 'SecurityError');
      },
    });
    expect(storedIconQuality()).toBeNull();
    expect(() => storeIconQuality('fast')).not.toThrow();
    Object.defineProperty(globalThis, 'localStorage', {
      configurable: true,
      value: {
        getItem: () => null,
        setItem: () => {
          throw new DOMException('full', 'QuotaExceededError');
        },
      },
    });
    expect(() => storeIconQuality('best')).not.toThrow();
    expect(storedIconQuality()).toBeNull();
  });
});
