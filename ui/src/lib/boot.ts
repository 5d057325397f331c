/**
 * What the shell read for the first screen before the page loaded (src-tauri/src/boot.rs
 * puts it in `window.__TRIPLINE_BOOT__`): the first frame shows real data instead of a
 * loading state. Each part is taken once; screens still read through `api` and follow
 * events as usual, so this only decides what the very first frame shows.
 */
import type { AppOverview, Settings } from './bindings';

type Boot = {
  /** As `api.listApps()` returns them; null when the shell could not read them. */
  apps: AppOverview[] | null;
  /** As `api.getSettings()` returns them. */
  settings: Settings;
  /**
   * CSS `font-family` values for `--font-sans` and `--font-mono`: on Linux the desktop's own
   * interface font (src-tauri/src/boot.rs); null where the stylesheet's stacks are right.
   */
  fonts: { sans: string; mono: string } | null;
};

declare global {
  interface Window {
    __TRIPLINE_BOOT__?: Partial<Boot> | null;
  }
}

/** The part `key` of the boot data, once (a reload or a second mount reads as usual). */
export function takeBoot<K extends keyof Boot>(key: K): NonNullable<Boot[K]> | undefined {
  const boot = window.__TRIPLINE_BOOT__;
  if (!boot || !(key in boot)) return undefined;
  const value = boot[key];
  delete boot[key];
  return value ?? undefined;
}
