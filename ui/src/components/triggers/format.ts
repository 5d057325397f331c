/**
 * Words for triggers and access records, shared by the Triggers and Access records
 * screens: kind summaries, tag filters, decisions, HTTP statuses, and small parsers
 * (image tags, DNS labels, JSON bodies).
 */
import type { Decision, TagFilter, Trigger, TriggerKind } from '../../lib/backend';

/** "Redeploy", "Scale", "Image". */
export function kindLabel(kind: TriggerKind): string {
  switch (kind.type) {
    case 'redeploy':
      return 'Redeploy';
    case 'scale':
      return 'Scale';
    case 'image':
      return 'Image';
  }
}

/** "1–6 replicas", "at least 2 replicas", "" (no bounds). */
export function boundsText(min: number | null | undefined, max: number | null | undefined): string {
  const hasMin = min !== null && min !== undefined;
  const hasMax = max !== null && max !== undefined;
  if (hasMin && hasMax) return `${min}–${max} replicas`;
  if (hasMin) return `at least ${min} ${min === 1 ? 'replica' : 'replicas'}`;
  if (hasMax) return `at most ${max} ${max === 1 ? 'replica' : 'replicas'}`;
  return '';
}

/** "every tag", "tags matching /v\d+/", "tags 1.0, 1.1 (2)". */
export function filterText(filter: TagFilter): string {
  switch (filter.mode) {
    case 'all':
      return 'every tag';
    case 'regex':
      return `tags matching /${filter.pattern}/`;
    case 'tags': {
      const shown = filter.tags.slice(0, 3).join(', ');
      const more = filter.tags.length > 3 ? ` and ${filter.tags.length - 3} more` : '';
      return `${filter.tags.length === 1 ? 'tag' : 'tags'} ${shown}${more}`;
    }
  }
}

/** The mode's name as the create form shows it. */
export function filterModeLabel(filter: TagFilter): string {
  return filter.mode === 'all' ? 'All' : filter.mode === 'regex' ? 'Regex' : 'Tag list';
}

/** One line on what the kind acts on, for tables: "Deployment/web · 1–6 replicas". */
export function kindDetail(kind: TriggerKind): string {
  switch (kind.type) {
    case 'redeploy':
      return 'optional JSON patch body';
    case 'scale': {
      const bounds = boundsText(kind.min, kind.max);
      return `${kind.kind}/${kind.name}${bounds ? ` · ${bounds}` : ''}`;
    }
    case 'image': {
      const repos = kind.repositories.join(', ');
      return `${repos} · ${filterModeLabel(kind.filter)}: ${filterText(kind.filter)}${kind.pin_digest ? ' · pin digest' : ''}`;
    }
  }
}

/** Which hook path the trigger's URL uses. */
export function hookPath(trigger: Trigger): string {
  return trigger.kind.type === 'image' ? '/hook/registry' : '/hook/trigger';
}

/** The URL with only the token's hint, safe to show: `http://…/hook/trigger?token=tl_abcd…`. */
export function redactedUrl(base: string, trigger: Trigger): string {
  const trimmed = base.replace(/\/+$/, '');
  return `${trimmed}${hookPath(trigger)}?token=${trigger.tokenHint}`;
}

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

export function decisionInfo(decision: Decision): DecisionInfo {
  return (
    DECISIONS.find((d) => d.value === decision) ?? { value: decision, label: decision, help: '', short: '' }
  );
}

const STATUS_TEXT: Record<number, string> = {
  200: 'OK',
  202: 'Accepted',
  400: 'Bad request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not found',
  408: 'Timeout',
  409: 'Conflict',
  413: 'Too large',
  415: 'Wrong type',
  429: 'Throttled',
  500: 'Server error',
  503: 'Unavailable',
};

/** "Accepted", "Not found", … ("" for codes without a short name). */
export function statusText(status: number): string {
  return STATUS_TEXT[status] ?? '';
}

/** What an HTTP status means for a trigger call (seed 000 and the listener's documented codes). */
export function statusHelp(status: number): string {
  switch (status) {
    case 200:
      return 'Answered; nothing was deployed (see the decision).';
    case 202:
      return 'A release was queued.';
    case 400:
      return 'The body or parameters were refused.';
    case 401:
      return 'No token, or a missing or wrong signature.';
    case 404:
      return 'No trigger has this token (rotated or deleted?).';
    case 408:
      return 'The body did not arrive in time.';
    case 409:
      return 'The trigger is disabled or its application is on hold.';
    case 413:
      return 'The body is larger than the limit.';
    case 415:
      return 'The Content-Type is not one the trigger reads.';
    case 429:
      return 'Too many calls with bad tokens from this address.';
    case 503:
      return 'Tripline could not read its database or secrets.';
    default:
      return '';
  }
}

/** "ok" (2xx), "client" (4xx), "server" (5xx). */
export function statusClass(status: number): 'ok' | 'client' | 'server' | 'other' {
  if (status >= 200 && status < 300) return 'ok';
  if (status >= 400 && status < 500) return 'client';
  if (status >= 500) return 'server';
  return 'other';
}

/** The tag of an image reference (`nginx:1.27@sha256:…` → `1.27`), if it has one. */
export function tagOf(image: string): string | undefined {
  const withoutDigest = image.split('@', 1)[0] ?? '';
  const lastSlash = withoutDigest.lastIndexOf('/');
  const colon = withoutDigest.lastIndexOf(':');
  if (colon <= lastSlash) return undefined;
  return withoutDigest.slice(colon + 1) || undefined;
}

/** Splits a box of tags separated by commas, spaces or new lines. */
export function splitTags(text: string): string[] {
  return text
    .split(/[\s,]+/)
    .map((t) => t.trim())
    .filter(Boolean);
}

/** Unique values, first occurrence kept. */
export function unique<T>(values: readonly T[]): T[] {
  return [...new Set(values)];
}

/** Why `name` is not a valid trigger name, or undefined when it is. Mirrors the engine's check. */
export function nameProblem(name: string): string | undefined {
  if (!name) return 'Enter a name.';
  if (name.length > 63) return `Use at most 63 characters (this is ${name.length}).`;
  if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(name)) {
    return 'Use lower-case letters, digits and "-", starting and ending with a letter or digit.';
  }
  return undefined;
}

/** The body pretty-printed when it is JSON, else as is. */
export function prettyJson(text: string): { text: string; json: boolean } {
  const trimmed = text.trim();
  if (!trimmed || !/^[[{"]/.test(trimmed)) return { text, json: false };
  try {
    return { text: JSON.stringify(JSON.parse(trimmed), null, 2), json: true };
  } catch {
    return { text, json: false };
  }
}

/** "3 KB", "64 KiB" style sizes of text. */
export function byteSize(text: string): string {
  const bytes = new TextEncoder().encode(text).length;
  if (bytes < 1024) return `${bytes} bytes`;
  return `${(bytes / 1024).toFixed(bytes < 10 * 1024 ? 1 : 0)} KiB`;
}

export interface KindInfo {
  value: TriggerKind['type'];
  label: string;
  /** One sentence on what a call does. */
  summary: string;
  /** The request form callers use (seeds 000–004), token elided. */
  request: string;
  /** Who usually calls it. */
  caller: string;
}

/** The three kinds, for the create form and the empty list. */
export const KINDS: readonly KindInfo[] = [
  {
    value: 'redeploy',
    label: 'Redeploy',
    summary:
      'Deploys the newest template version. A JSON body patches the template first (a new version), e.g. to set an image.',
    request: `POST /hook/trigger?token=…
{"resource":{"deployment":{"metadata":{"name":"demo"},"spec":…}}}`,
    caller: 'CI jobs, monitoring alerts',
  },
  {
    value: 'scale',
    label: 'Scale',
    summary: 'Adds or removes replicas of one workload, within bounds you set.',
    request: `GET /hook/trigger?token=…&type=scale_out&step=2`,
    caller: 'autoscaling scripts, alerts',
  },
  {
    value: 'image',
    label: 'Image',
    summary:
      'Follows a registry: a push whose tag passes the filter (all, a regex, or a list) updates the image, makes a new version and deploys it.',
    request: `POST /hook/registry?token=…
(the push webhook of Docker Hub, ACR, Harbor, Quay, GitHub…)`,
    caller: 'container registries',
  },
];

const clock = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit' });
const dayClock = new Intl.DateTimeFormat(undefined, {
  month: 'short',
  day: 'numeric',
  hour: '2-digit',
  minute: '2-digit',
});
const yearDay = new Intl.DateTimeFormat(undefined, { year: 'numeric', month: 'short', day: 'numeric' });

/** A compact local time for logs: "14:03:12" today, "Jun 3, 14:03" this year, else the date. */
export function shortTime(at: string, nowMs = Date.now()): string {
  const date = new Date(at);
  if (Number.isNaN(date.getTime())) return at;
  const now = new Date(nowMs);
  if (date.toDateString() === now.toDateString()) return clock.format(date);
  if (date.getFullYear() === now.getFullYear()) return dayClock.format(date);
  return yearDay.format(date);
}
