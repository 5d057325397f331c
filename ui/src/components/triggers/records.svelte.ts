/**
 * Access records as the lists show them: a slim summary per record (the engine leaves
 * the bodies in the database until a record is opened), paged newest first with `before`,
 * and kept current from the listener's `access-recorded` events — each event for the list's
 * filter refetches the newest page and merges it by id. Events that arrive while a
 * fetch runs are coalesced into one more fetch, so a flood of calls costs a few
 * queries, not one per call.
 */
import { api, type Decision, type Recorded, type RecordSummary } from '../../lib/backend';
import { describe, errorCode } from '../../lib/errors';
import { formatFull } from '../../lib/time.svelte';
import { shortTime } from './format';

/**
 * What a list row needs of a record: the engine's slim record (no headers, body, event or
 * response; those come with `getRecord` when a record is opened), plus the time as the row
 * shows it, worked out on first display.
 */
export type RecordRow = RecordSummary & { shown?: { short: string; full: string } };

/** The time of a record as a list row shows it ("14:03:12", full in the tooltip), computed once per record. */
export function shownTime(r: RecordRow): { short: string; full: string } {
  if (!r.shown) {
    const date = new Date(r.at);
    r.shown = Number.isNaN(date.getTime())
      ? { short: r.at, full: r.at }
      : { short: shortTime(r.at), full: formatFull(date) };
  }
  return r.shown;
}

/** What a record without a trigger was: a token no trigger has, or none at all. */
export function callerLabel(r: Pick<RecordRow, 'trigger' | 'path'>): string {
  if (r.trigger) return r.trigger;
  return /[?&](token|secret)=/.test(r.path) ? 'unknown token' : 'no token';
}

function changed(a: RecordRow, b: RecordRow): boolean {
  return (
    a.status !== b.status ||
    a.release !== b.release ||
    a.reason !== b.reason ||
    a.decision !== b.decision ||
    a.repeats !== b.repeats
  );
}

export interface FeedQuery {
  trigger: string | null;
  decision: Decision | null;
}

/** One filtered, paged, live list of records. Make a new one when the filter changes. */
export class RecordFeed {
  /** Loaded records, newest first. */
  items = $state.raw<RecordRow[]>([]);
  /** The first page has arrived. */
  loaded = $state(false);
  /** A further page is being fetched. */
  loadingMore = $state(false);
  /** The oldest record is loaded. */
  complete = $state(false);
  /** Why the last fetch failed. */
  error = $state<string | undefined>();
  /** The failure's stable code (`trigger.not_found` …). */
  errorCode = $state<string | undefined>();
  /** Records that arrived live since the list was opened. */
  arrived = $state(0);

  /** Called with how many records were put on top by a live refresh. */
  onprepend?: (count: number) => void;

  readonly query: FeedQuery;
  readonly pageSize: number;
  #refreshing = false;
  #again = false;
  #closed = false;

  constructor(query: FeedQuery, pageSize = 200) {
    this.query = query;
    this.pageSize = pageSize;
  }

  #page(before: number | null) {
    return api.listRecords({ ...this.query, before, limit: this.pageSize });
  }

  /** Fetches the newest page, replacing what was loaded. */
  async load() {
    this.error = undefined;
    this.errorCode = undefined;
    try {
      const page = await this.#page(null);
      if (this.#closed) return;
      this.items = page;
      this.complete = page.length < this.pageSize;
      this.loaded = true;
    } catch (e) {
      if (!this.#closed) {
        this.error = describe(e);
        this.errorCode = errorCode(e);
      }
    }
  }

  /** Fetches the page older than the last loaded record (VirtualList's `onend`). */
  async more() {
    if (this.loadingMore || this.complete || !this.loaded) return;
    const last = this.items[this.items.length - 1];
    if (!last) return;
    this.loadingMore = true;
    try {
      const page = await this.#page(last.id);
      if (this.#closed) return;
      // A live refresh may have reset the list meanwhile: append only what is older.
      const oldest = this.items[this.items.length - 1]?.id ?? Infinity;
      const older = page.filter((r) => r.id < oldest);
      this.items = [...this.items, ...older];
      this.complete = page.length < this.pageSize;
    } catch (e) {
      if (!this.#closed) this.error = describe(e);
    } finally {
      this.loadingMore = false;
    }
  }

  /** Whether a pushed record belongs in this list. */
  matches(event: Recorded): boolean {
    if (this.query.trigger !== null && event.trigger !== this.query.trigger) return false;
    if (this.query.decision !== null && event.decision !== this.query.decision) return false;
    return true;
  }

  /** Reacts to an `access-recorded` event. */
  notify(event: Recorded) {
    if (!this.matches(event) || !this.loaded) return;
    if (this.#refreshing) {
      this.#again = true;
      return;
    }
    void this.#refresh();
  }

  async #refresh() {
    this.#refreshing = true;
    try {
      do {
        this.#again = false;
        const page = await this.#page(null);
        if (this.#closed) return;
        this.#merge(page);
      } while (this.#again && !this.#closed);
    } catch (e) {
      if (!this.#closed) this.error = describe(e);
    } finally {
      this.#refreshing = false;
    }
  }

  #merge(page: RecordRow[]) {
    const top = this.items[0]?.id ?? -Infinity;
    const newer = page.filter((r) => r.id > top);
    if (newer.length === page.length && page.length === this.pageSize && this.items.length > 0) {
      // More arrived than a page holds: the gap cannot be bridged cheaply, start over.
      this.items = page;
      this.complete = false;
      this.arrived += newer.length;
      this.onprepend?.(-1);
      return;
    }
    // Records seen before may have changed (status and release are filled in after a deploy starts).
    const seen = new Map(this.items.slice(0, this.pageSize).map((r) => [r.id, r]));
    const updated = new Map(
      page
        .filter((r) => {
          const before = seen.get(r.id);
          return before !== undefined && changed(before, r);
        })
        .map((r) => [r.id, r]),
    );
    const rest = updated.size ? this.items.map((r) => updated.get(r.id) ?? r) : this.items;
    if (newer.length === 0 && updated.size === 0) return;
    this.items = newer.length ? [...newer, ...rest] : rest;
    if (newer.length) {
      this.arrived += newer.length;
      this.onprepend?.(newer.length);
    }
  }

  /** Stops writing: the list closed or a newer feed replaced this one. */
  close() {
    this.#closed = true;
  }

  /** Takes a closed feed back into use (a list shown again) and catches up with what arrived meanwhile. */
  reopen() {
    this.#closed = false;
    this.#refreshing = false;
    if (this.loaded) void this.#refresh();
    else void this.load();
  }
}

/** A records list as it was left: its feed, scroll position and selection, to come back to. */
export interface SavedList {
  trigger: string | null;
  decision: Decision | null;
  feed: RecordFeed;
  scrollTop: number;
  selected: number;
}

let saved: SavedList | undefined;

/** Keeps the list the person leaves (e.g. to open a record), so Back finds it as it was. */
export function saveList(list: SavedList) {
  saved = list;
}

/** Which trigger's records the saved list shows (null: all), if a list was saved. */
export function savedListTrigger(): string | null | undefined {
  return saved?.trigger;
}

/** The saved list if it showed `trigger`'s records (any trigger when null); it is handed over once. */
export function takeList(trigger: string | null): SavedList | undefined {
  const found = saved && saved.trigger === trigger ? saved : undefined;
  saved = undefined;
  return found;
}
