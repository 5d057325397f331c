/**
 * Unsaved editor text, kept on this computer so that leaving a screen, a reload or a
 * crash does not lose it. A draft lives until it is saved as a version or discarded.
 * Templates are not secrets (they are stored in the database as plain text too).
 */

export interface Draft {
  /** The editor text. */
  content: string;
  /** The version the text was based on (none for a new template). */
  base: number | null;
  /** For a new template: the name and message typed so far. */
  name?: string;
  message?: string;
  /** When it was last written (RFC 3339). */
  savedAt: string;
}

const PREFIX = 'tripline:draft:';

/** The key of an existing template's draft, or of the new-template form's. */
export function draftKey(template: string | null): string {
  // Template names are DNS labels, so "+new" cannot clash with one.
  return PREFIX + (template ?? '+new');
}

export function loadDraft(key: string): Draft | undefined {
  try {
    const raw = localStorage.getItem(key);
    if (!raw) return undefined;
    const draft = JSON.parse(raw) as Draft;
    return typeof draft.content === 'string' ? draft : undefined;
  } catch {
    return undefined;
  }
}

export function storeDraft(key: string, draft: Omit<Draft, 'savedAt'>) {
  try {
    localStorage.setItem(key, JSON.stringify({ ...draft, savedAt: new Date().toISOString() }));
  } catch {
    // Storage full or unavailable: the text is still in the editor.
  }
}

export function clearDraft(key: string) {
  try {
    localStorage.removeItem(key);
  } catch {
    // Nothing to do.
  }
}

/**
 * Writes drafts a moment after the last change rather than on every keystroke.
 * `write(undefined)` (or `flush` with nothing pending) removes the draft.
 */
export function draftWriter(key: string, delayMs = 400) {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let pending: Omit<Draft, 'savedAt'> | null | undefined;
  const flush = () => {
    clearTimeout(timer);
    timer = undefined;
    if (pending === undefined) return;
    if (pending === null) clearDraft(key);
    else storeDraft(key, pending);
    pending = undefined;
  };
  return {
    /** Schedules a write of `draft`, or the removal of the draft when `null`. */
    write(draft: Omit<Draft, 'savedAt'> | null) {
      pending = draft;
      clearTimeout(timer);
      timer = setTimeout(flush, delayMs);
    },
    flush,
    /** Forgets anything pending and removes the stored draft. */
    discard() {
      clearTimeout(timer);
      pending = undefined;
      clearDraft(key);
    },
  };
}
