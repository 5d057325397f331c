/**
 * The error shape every Tauri command rejects with: the Rust side's boundary error
 * (`{code, message, details?}`), serialised as-is. `code` is stable and meant for
 * code to branch on; `message` is a sentence for a person; `details` carries extra
 * context such as the Kubernetes status reason.
 */
export interface AppError {
  code: string;
  message: string;
  details?: unknown;
}

/** Whether `e` has the shape of an {@link AppError}. */
export function isAppError(e: unknown): e is AppError {
  return (
    typeof e === 'object' &&
    e !== null &&
    typeof (e as AppError).code === 'string' &&
    typeof (e as AppError).message === 'string'
  );
}

/** A one-line message for a person, whatever was thrown. */
export function describe(e: unknown): string {
  if (isAppError(e)) return e.message;
  if (e instanceof Error) return e.message || e.name;
  if (typeof e === 'string') return e || 'Unknown error';
  if (typeof e === 'object' && e !== null && typeof (e as { message?: unknown }).message === 'string') {
    return (e as { message: string }).message;
  }
  return 'Unknown error';
}

/** The extra detail to show under the message, when there is any. */
export function detailsOf(e: unknown): string | undefined {
  if (!isAppError(e) || e.details === undefined || e.details === null) return undefined;
  if (typeof e.details === 'string') return e.details;
  return JSON.stringify(e.details, null, 2);
}
