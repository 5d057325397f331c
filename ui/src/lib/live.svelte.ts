/**
 * A value read from Rust and read again when the caller says something changed, without
 * polling: the rollout cell of the Applications list and the workloads panel of an
 * application both follow the cluster this way.
 *
 * It reads once when created, then after each burst of `changed()` moves: `quietMs` after
 * the last move, but at least every `maxWaitMs` while a burst lasts (a rollout reports every
 * step, and its pods should be seen coming up). Only the newest read lands: an answer that
 * a later read overtook is dropped. Create it while a component initialises (it owns
 * effects, stopped with the component).
 *
 * ```ts
 * const rollout = new LiveRead(() => api.getRollout(app), () => tick);
 * // rollout.value, rollout.error, rollout.loading, rollout.read; rollout.load() refreshes now
 * ```
 */
import { untrack } from 'svelte';
import { describe } from './errors';

export class LiveRead<T> {
  /** The last value read, `undefined` before the first read lands. */
  value = $state<T | undefined>();
  /** Why the last read failed, in words (`undefined` after a good read). */
  error = $state<string | undefined>();
  /** A read is under way. */
  loading = $state(false);
  /** A read has landed, good or bad. */
  read = $state(false);

  #fetch: () => Promise<T>;
  #seq = 0;

  constructor(
    fetch: () => Promise<T>,
    changed: () => unknown,
    { quietMs = 300, maxWaitMs = 2000 }: { quietMs?: number; maxWaitMs?: number } = {},
  ) {
    this.#fetch = fetch;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let firstPending: number | undefined;
    let first = true;
    $effect(() => {
      changed();
      if (first) {
        first = false;
        untrack(() => void this.load());
        return;
      }
      const now = Date.now();
      firstPending ??= now;
      clearTimeout(timer);
      const delay = Math.max(0, Math.min(quietMs, firstPending + maxWaitMs - now));
      timer = setTimeout(() => {
        firstPending = undefined;
        void this.load();
      }, delay);
    });
    $effect(() => () => clearTimeout(timer));
  }

  /** Reads now. */
  load = async () => {
    const mine = ++this.#seq;
    this.loading = true;
    try {
      const value = await this.#fetch();
      if (mine !== this.#seq) return;
      this.value = value;
      this.error = undefined;
    } catch (e) {
      if (mine !== this.#seq) return;
      this.error = describe(e);
    } finally {
      if (mine === this.#seq) {
        this.loading = false;
        this.read = true;
      }
    }
  };
}
