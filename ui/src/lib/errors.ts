/**
 * Reading what a failed call threw. Every Tauri command rejects with the engine's boundary
 * error, `ErrorBody` (`{code, message, details?}`), whose TypeScript type is generated from the
 * Rust one (./bindings.ts): `code` is stable and meant for code to branch on; `message` is a
 * sentence for a person; `details` carries extra context such as the Kubernetes status reason
 * or the line a template error points at.
 */
import type { Code, ErrorBody } from './bindings';

export type { Code, ErrorBody };

/** Whether `e` has the shape of an {@link ErrorBody}. */
export function isErrorBody(e: unknown): e is ErrorBody {
  return (
    typeof e === 'object' &&
    e !== null &&
    typeof (e as ErrorBody).code === 'string' &&
    typeof (e as ErrorBody).message === 'string'
  );
}

/**
 * The error's code (`template.not_found`, …), when a command threw it. The type is the
 * generated union of every code, so a comparison with a code that does not exist fails to
 * compile.
 */
export function errorCode(e: unknown): Code | undefined {
  return isErrorBody(e) ? e.code : undefined;
}

/** A one-line message for a person, whatever was thrown. */
export function describe(e: unknown): string {
  if (isErrorBody(e)) return e.message;
  if (e instanceof Error) return e.message || e.name;
  if (typeof e === 'string') return e || 'Unknown error';
  if (typeof e === 'object' && e !== null && typeof (e as { message?: unknown }).message === 'string') {
    return (e as { message: string }).message;
  }
  return 'Unknown error';
}

/** The extra detail to show under the message, when there is any. */
export function detailsOf(e: unknown): string | undefined {
  if (!isErrorBody(e) || e.details === undefined || e.details === null) return undefined;
  if (typeof e.details === 'string') return e.details;
  return JSON.stringify(e.details, null, 2);
}
