/**
 * App-wide notifications. Screens call `toast.ok(…)` / `toast.error(…)`; the single
 * `<Toasts />` in App.svelte renders them.
 *
 * Success toasts leave by themselves; errors stay until dismissed, so there is time to
 * read them and to copy their details.
 */
import { describe, detailsOf } from './errors';

export type ToastKind = 'ok' | 'error';

export interface Toast {
  id: number;
  kind: ToastKind;
  message: string;
  details?: string;
}

const OK_TIMEOUT_MS = 4000;
const MAX_VISIBLE = 5;

class Toasts {
  items = $state<Toast[]>([]);
  #next = 1;

  /** Shows a success message that dismisses itself. */
  ok(message: string) {
    const id = this.#push({ kind: 'ok', message });
    setTimeout(() => this.dismiss(id), OK_TIMEOUT_MS);
  }

  /** Shows an error message, with optional details, until dismissed. */
  error(message: string, details?: string) {
    this.#push({ kind: 'error', message, details });
  }

  /**
   * Shows whatever a failed call threw, e.g. an `ErrorBody` from a command:
   * `toast.fromError(e, 'Could not save the template')`.
   */
  fromError(e: unknown, context?: string) {
    const message = context ? `${context}: ${describe(e)}` : describe(e);
    this.error(message, detailsOf(e));
  }

  dismiss(id: number) {
    this.items = this.items.filter((t) => t.id !== id);
  }

  #push(toast: Omit<Toast, 'id'>): number {
    const id = this.#next++;
    this.items = [...this.items, { id, ...toast }].slice(-MAX_VISIBLE);
    return id;
  }
}

export const toast = new Toasts();
