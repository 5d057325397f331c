/**
 * How the UI puts things into words, in one place, so every screen says them the same way:
 * Kubernetes objects, sentences and counts, what is wrong with a name, byte sizes and
 * durations, HTTP statuses, the listener's decisions and source revisions (Git commits, Helm
 * chart versions). Pure functions and tables, without Svelte or Tauri, so `format.test.ts`
 * runs them as they are.
 *
 * Byte sizes are in IEC binary units — B, KiB, MiB, GiB, powers of 1024 — as the listener's
 * limits and the README state them ("64 KiB", "10 MiB"). Counts group digits by the locale.
 *
 * What is one domain's own (a trigger's kind, a release's cause, a template version's
 * origin) stays beside that domain's components, in `components/<domain>/format.ts`.
 */
import type { Decision, ResourceId, Revision, Value } from './bindings';

// ---------- Kubernetes objects ----------

/** A key that tells objects apart (apiVersion, kind, namespace, name), for keyed lists and maps. */
export function resourceKey(id: ResourceId): string {
  return `${id.apiVersion}|${id.kind}|${id.namespace ?? ''}|${id.name}`;
}

/** `Deployment/web`, with `namespace/` in front when the object names its namespace. */
export function resourceLabel(id: ResourceId): string {
  return `${id.namespace ? `${id.namespace}/` : ''}${id.kind}/${id.name}`;
}

/**
 * A field value in one line, short enough for a table cell: strings as they are, anything
 * else as compact JSON, cut to `max` characters (the last one an ellipsis).
 */
export function shortValue(value: Value | null | undefined, max = 120): string {
  if (value === undefined) return '';
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

// ---------- Sentences and counts ----------

/** The text with a capital first letter (the engine's messages start in lower case). */
export function capitalise(text: string): string {
  return text ? text.charAt(0).toUpperCase() + text.slice(1) : text;
}

/**
 * A message as a sentence: trimmed, a capital first letter, a full stop at the end unless it
 * already ends with one, a `!`, `?` or `…` (also before a closing bracket or quote).
 */
export function sentence(message: string): string {
  const text = capitalise(message.trim());
  if (!text) return text;
  return /[.!?…]["'”’)\]]*$/.test(text) ? text : `${text}.`;
}

const integer = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 });

/** "1 object", "3 objects", "1,204 records"; `many` where the plural is more than an added "s". */
export function plural(n: number, singular: string, many = `${singular}s`): string {
  return `${integer.format(n)} ${n === 1 ? singular : many}`;
}

// ---------- Names ----------

/**
 * Why `value` breaks the Kubernetes DNS-label rule that names of templates, applications,
 * namespaces and triggers follow (as the engine checks them), or undefined when it keeps it.
 * `what` names the field in the messages.
 */
export function dnsLabelProblem(value: string, what = 'name'): string | undefined {
  if (!value) return `Enter a ${what}.`;
  if (value.length > 63) return `Use at most 63 characters (this ${what} has ${value.length}).`;
  if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(value)) {
    return 'Use lower-case letters, digits and “-”, starting and ending with a letter or digit (like web-2).';
  }
  return undefined;
}

// ---------- Sizes and durations ----------

const BYTE_UNITS = ['KiB', 'MiB', 'GiB', 'TiB'] as const;

/** 512 → "512 B", 1536 → "1.5 KiB", 3 MiB → "3.0 MiB", 64 KiB → "64 KiB": one decimal below 10. */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes < 1024) return `${Math.max(0, Math.round(bytes || 0))} B`;
  let value = bytes;
  for (const [i, unit] of BYTE_UNITS.entries()) {
    value /= 1024;
    const tenths = Math.round(value * 10) / 10;
    const shown = tenths < 10 ? tenths.toFixed(1) : Math.round(value).toFixed(0);
    // 1023.7 KiB would show as "1024 KiB": it is "1.0 MiB".
    if (Number(shown) < 1024 || i === BYTE_UNITS.length - 1) return `${shown} ${unit}`;
  }
  return `${bytes} B`; // not reached: the loop returns at its last unit
}

/** How many bytes `text` takes in UTF-8 (what the listener counts a body in). */
export function utf8Length(text: string): number {
  return new TextEncoder().encode(text).length;
}

/** "850 ms", "12 s", "3 min 4 s", "1 h 2 min". */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.max(0, Math.round(ms))} ms`;
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return s % 60 ? `${m} min ${s % 60} s` : `${m} min`;
  const h = Math.floor(m / 60);
  return m % 60 ? `${h} h ${m % 60} min` : `${h} h`;
}

// ---------- HTTP statuses (the listener's answers) ----------

/** What one status means: a short name ("Not found") and a sentence for a trigger call. */
export interface StatusInfo {
  text: string;
  help: string;
}

/** The statuses the listener answers with (the README lists them), in words. */
export const HTTP_STATUSES: Readonly<Record<number, StatusInfo>> = {
  200: { text: 'OK', help: 'Nothing was queued (see the decision), or, with ?wait=true, the deploy has ended.' },
  202: { text: 'Accepted', help: 'A release was queued.' },
  400: { text: 'Bad request', help: 'The body or parameters were refused.' },
  401: { text: 'Unauthorized', help: 'No token, or a missing or wrong signature.' },
  404: { text: 'Not found', help: 'No trigger has this token (rotated or deleted?).' },
  408: { text: 'Timeout', help: 'The body did not arrive in time.' },
  409: { text: 'Conflict', help: 'The trigger is disabled or its application is on hold.' },
  413: { text: 'Too large', help: 'The body is larger than the limit.' },
  415: { text: 'Wrong type', help: 'The Content-Type is not one the trigger reads.' },
  422: { text: 'Refused', help: 'The cluster refused what the call’s own patch made.' },
  429: { text: 'Throttled', help: 'Too many calls with bad tokens from this address or for one token prefix.' },
  500: { text: 'Server error', help: 'Tripline failed to answer the call.' },
  503: { text: 'Unavailable', help: 'Tripline could not read its database or secrets, or had too many connections open.' },
};

/** "Accepted", "Not found", … ("" for a status without a short name). */
export function statusText(status: number): string {
  return HTTP_STATUSES[status]?.text ?? '';
}

/** What a status means for a trigger call, as a sentence; statuses not listed by their class. */
export function statusHelp(status: number): string {
  const known = HTTP_STATUSES[status];
  if (known) return known.help;
  if (status >= 500) return 'Tripline failed to answer the call.';
  if (status >= 400) return 'The call was refused; nothing changed.';
  return 'Answered.';
}

/**
 * The class of a status, for styling (never the only signal: the number is shown): a
 * release queued (202), answered without one (other 1xx/2xx), refused (3xx/4xx), failed (5xx).
 */
export function statusClass(status: number): 'accepted' | 'noop' | 'rejected' | 'error' {
  if (status === 202) return 'accepted';
  if (status < 300) return 'noop';
  if (status < 500) return 'rejected';
  return 'error';
}

// ---------- The listener's decisions ----------

/** One decision in words. */
export interface DecisionInfo {
  value: Decision;
  label: string;
  /** What it means, for tooltips and explanations. */
  help: string;
  /** A few words for the filter. */
  short: string;
}

/** The listener's decisions, in the order filters list them. */
export const DECISIONS: readonly DecisionInfo[] = [
  { value: 'triggered', label: 'Triggered', short: 'a deploy started', help: 'a deploy or scale was started' },
  {
    value: 'untriggered',
    label: 'Untriggered',
    short: 'skipped by its rules',
    help: "skipped by the trigger's rules, e.g. a tag not in its list",
  },
  { value: 'no-op', label: 'No change', short: 'already so', help: 'the cluster already had what the call asked for' },
  { value: 'rejected', label: 'Rejected', short: 'refused', help: 'refused: bad token, disabled, bad body, throttled…' },
];

/** A decision in words; one a newer engine added shows as it is. */
export function decisionInfo(decision: Decision | (string & {})): DecisionInfo {
  return (
    DECISIONS.find((d) => d.value === decision) ?? {
      value: decision as Decision,
      label: decision,
      help: '',
      short: '',
    }
  );
}

/** "Triggered", "Untriggered", "No change", "Rejected". */
export function decisionLabel(decision: Decision | (string & {})): string {
  return decisionInfo(decision).label;
}

// ---------- Source revisions ----------

/** The first 12 characters of a commit id, as the engine's messages and the CLI show it. */
export function shortCommit(commit: string): string {
  return commit.slice(0, 12);
}

/** A chart digest's first 12 hex digits, without its `sha256:`. */
export function shortDigest(digest: string): string {
  return digest.replace(/^sha256:/, '').slice(0, 12);
}

/**
 * A revision in a few words: "commit 3f9f05b1c2d4 of main", "chart web 1.4.2". The same words
 * as the engine's messages, so a toast and a screen name a revision alike.
 */
export function revisionLabel(revision: Revision): string {
  switch (revision.type) {
    case 'git':
      return `${revisionName(revision)} of ${revision.reference}`;
    case 'helm':
      return revisionName(revision);
  }
}

/** A revision's short name: "commit 3f9f05b1c2d4", "chart web 1.4.2". */
export function revisionName(revision: Revision): string {
  return revision.type === 'git' ? `commit ${shortCommit(revision.commit)}` : `chart ${revision.chart} ${revision.version}`;
}

/** A revision in a table cell: the short commit, or the chart's version. */
export function revisionShort(revision: Revision): string {
  return revision.type === 'git' ? shortCommit(revision.commit) : revision.version;
}

/** Whether two revisions are the same commit (or chart version and digest). */
export function sameRevision(a: Revision | null | undefined, b: Revision | null | undefined): boolean {
  if (!a || !b) return false;
  if (a.type === 'git' && b.type === 'git') return a.commit === b.commit;
  if (a.type === 'helm' && b.type === 'helm') return a.digest === b.digest && a.version === b.version;
  return false;
}
