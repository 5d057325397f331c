/**
 * The one module the UI calls Rust through. `api.x(...)` is the generated `commands.x`
 * (see ./bindings.ts, made from the Rust types by tauri-specta) with its result unwrapped:
 * it resolves with the data or rejects with the command's `ErrorBody`
 * (`{code, message, details?}`), which `toast.fromError` and `describe` understand.
 *
 * `on.*` subscribes to the events Rust pushes (no screen polls): each returns an
 * unsubscribe function, for `$effect` cleanup.
 */
import { commands, events } from './bindings';
import type {
  AccessRecorded,
  DeployProgress,
  ErrorBody,
  ListenerChanged,
} from './bindings';

export type * from './bindings';

type Unwrapped<F> = F extends (...args: infer A) => Promise<{ status: 'ok'; data: infer T } | { status: 'error'; error: unknown }>
  ? (...args: A) => Promise<T>
  : F extends (...args: infer A) => Promise<infer T>
    ? (...args: A) => Promise<T>
    : never;

type Api = { [K in keyof typeof commands]: Unwrapped<(typeof commands)[K]> };

function unwrap(command: (...args: unknown[]) => Promise<unknown>) {
  return async (...args: unknown[]) => {
    const result = await command(...args);
    if (result && typeof result === 'object' && 'status' in result) {
      const r = result as { status: 'ok'; data: unknown } | { status: 'error'; error: ErrorBody };
      if (r.status === 'ok') return r.data;
      throw r.error;
    }
    return result;
  };
}

/** Every Rust command, resolving with its data or rejecting with an `ErrorBody`. */
export const api = Object.fromEntries(
  Object.entries(commands).map(([name, command]) => [
    name,
    unwrap(command as (...args: unknown[]) => Promise<unknown>),
  ]),
) as Api;

type Unlisten = () => void;

function listen<T>(event: { listen: (cb: (e: { payload: T }) => void) => Promise<() => void> }) {
  return (callback: (payload: T) => void): Unlisten => {
    let stop: (() => void) | undefined;
    let cancelled = false;
    void event
      .listen((e) => callback(e.payload))
      .then((unlisten) => {
        if (cancelled) unlisten();
        else stop = unlisten;
      });
    return () => {
      cancelled = true;
      stop?.();
    };
  };
}

/** Events pushed from Rust. */
export const on = {
  /** A release moved: queued, started, progress (per object / rollout), finished. */
  deploy: listen<DeployProgress>(events.deployProgress),
  /** The listener answered and recorded a call (the record is in the database). */
  record: listen<AccessRecorded>(events.accessRecorded),
  /** The listener started, stopped or failed to start. */
  listener: listen<ListenerChanged>(events.listenerChanged),
};
