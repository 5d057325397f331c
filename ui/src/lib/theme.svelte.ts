/**
 * The colour theme, as reactive state.
 *
 * The source of truth is `document.documentElement.dataset.theme` ('light' | 'dark' |
 * 'system', absent meaning 'system') together with the OS `prefers-color-scheme`. CSS
 * reads both directly (see app.css); this module mirrors them for code that must pick a
 * theme in JavaScript, such as CodeMirror. Whoever changes the attribute — Settings,
 * a test, devtools — is picked up through a MutationObserver, so there is one switch.
 */

export type ThemePreference = 'light' | 'dark' | 'system';

function readPreference(): ThemePreference {
  const value = document.documentElement.dataset.theme;
  return value === 'light' || value === 'dark' ? value : 'system';
}

const media = window.matchMedia('(prefers-color-scheme: dark)');

class Theme {
  /** What the user chose. */
  preference = $state<ThemePreference>(readPreference());
  /** Whether the OS currently prefers dark. */
  systemDark = $state(media.matches);
  /** The theme actually shown. */
  dark = $derived(this.preference === 'dark' || (this.preference === 'system' && this.systemDark));

  constructor() {
    media.addEventListener('change', (e) => (this.systemDark = e.matches));
    new MutationObserver(() => (this.preference = readPreference())).observe(
      document.documentElement,
      { attributes: true, attributeFilter: ['data-theme'] },
    );
  }

  /** Applies a preference; persisting it is the caller's business (Settings). */
  set(preference: ThemePreference) {
    document.documentElement.dataset.theme = preference;
    this.preference = preference;
  }
}

export const theme = new Theme();
