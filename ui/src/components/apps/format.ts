/**
 * Words for the application screens: clusters, causes, actions, durations and the event
 * parameters a trigger call carried. Pure functions, so every screen says things the
 * same way.
 */
import type { Action, Cause, ClusterRef, Health, Release, ResourceId, Rollout, Value } from '../../lib/backend';

/** "sandbox" or the kubeconfig context's name. */
export function clusterName(ref: ClusterRef): string {
  return ref.type === 'sandbox' ? 'sandbox' : ref.name;
}

/** A stable key for a cluster reference (for selects and comparisons). */
export function clusterKey(ref: ClusterRef): string {
  return ref.type === 'sandbox' ? 'sandbox' : `context:${ref.name}`;
}

/** `Deployment/web` (with `ns/` in front when the object names its namespace). */
export function resourceLabel(id: ResourceId): string {
  return `${id.namespace ? `${id.namespace}/` : ''}${id.kind}/${id.name}`;
}

/** A key that tells objects apart, for keyed lists and maps. */
export function resourceKey(id: ResourceId): string {
  return `${id.apiVersion}|${id.kind}|${id.namespace ?? ''}|${id.name}`;
}

const VIA: Record<string, string> = { cli: 'the command line', desktop: 'the app' };

function via(v: string): string {
  return VIA[v] ?? v;
}

/** What caused a release, in a few words (without the trigger's event). */
export function causeText(cause: Cause): string {
  switch (cause.type) {
    case 'user':
      return `Deployed by hand from ${via(cause.via)}`;
    case 'rollback':
      return `Rollback to version ${cause.to} from ${via(cause.via)}`;
    case 'trigger':
      return `Trigger ${cause.trigger}`;
  }
}

/** Short cause for tables: "You", "Rollback to v3", "demo-redeploy". */
export function causeShort(cause: Cause): string {
  switch (cause.type) {
    case 'user':
      return cause.via === 'cli' ? 'You (CLI)' : 'You';
    case 'rollback':
      return `Rollback to v${cause.to}`;
    case 'trigger':
      return cause.trigger;
  }
}

function scalar(value: Value | undefined): string | undefined {
  if (value === null || value === undefined) return undefined;
  if (typeof value === 'string') return value || undefined;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return undefined;
}

/** One "name: value" pair of a trigger call's parameters. */
export interface Param {
  label: string;
  value: string;
}

const PARAM_ORDER: [string, string][] = [
  ['image', 'Image'],
  ['tag', 'Tag'],
  ['digest', 'Digest'],
  ['repository', 'Repository'],
  ['name', 'Repository name'],
  ['namespace', 'Namespace'],
  ['owner', 'Owner'],
  ['pusher', 'Pushed by'],
  ['registry', 'Registry'],
  ['format', 'Webhook format'],
  ['pushedAt', 'Pushed at'],
  ['version', 'Template version'],
];

/**
 * The parameters a trigger call carried, as label/value pairs: a registry push (image, tag,
 * digest, …), a scale request (direction and step) or a patch (its targets).
 */
export function eventParams(event: Value | null | undefined): Param[] {
  if (!event || typeof event !== 'object' || Array.isArray(event)) return [];
  const params: Param[] = [];
  const direction = scalar(event.direction);
  if (direction) {
    const step = scalar(event.step) ?? '1';
    params.push({ label: 'Scale', value: `${direction === 'scale_in' ? 'in' : 'out'} by ${step}` });
    const kind = scalar(event.kind);
    const name = scalar(event.name);
    if (kind && name) params.push({ label: 'Workload', value: `${kind}/${name}` });
    const min = scalar(event.min);
    const max = scalar(event.max);
    if (min || max) params.push({ label: 'Bounds', value: `${min ?? '–'} to ${max ?? '–'}` });
    return params;
  }
  if (Array.isArray(event.patch)) {
    const targets = event.patch.map((t) => scalar(t)).filter(Boolean);
    params.push({ label: 'Patch', value: targets.length ? targets.join(', ') : 'no objects' });
    const type = scalar(event.patchType);
    if (type) params.push({ label: 'Patch type', value: type });
    const version = scalar(event.version);
    if (version) {
      params.push({
        label: 'Template version',
        value: event.newVersion === false ? `${version} (unchanged)` : `${version} (new)`,
      });
    }
    return params;
  }
  for (const [key, label] of PARAM_ORDER) {
    const value = scalar(event[key]);
    if (value) params.push({ label, value });
  }
  return params;
}

/** The most telling parameter, for one-line displays: the tag, else the scale, else the patch. */
export function eventSummary(event: Value | null | undefined): string | undefined {
  const params = eventParams(event);
  const pick = (label: string) => params.find((p) => p.label === label);
  const tag = pick('Tag');
  if (tag) return `tag ${tag.value}`;
  const scale = pick('Scale');
  if (scale) return `scale ${scale.value}`;
  const patch = pick('Patch');
  if (patch) return `patch ${patch.value}`;
  return params[0] ? `${params[0].label.toLowerCase()} ${params[0].value}` : undefined;
}

const ACTIONS: Record<Action, string> = {
  created: 'Created',
  applied: 'Applied',
  pruned: 'Pruned',
  kept: 'Kept',
  failed: 'Failed',
};

/** A resource outcome's action as a word. */
export function actionLabel(action: Action | (string & {})): string {
  return ACTIONS[action as Action] ?? action;
}

/** A rollout's state in a few words. */
export function rolloutText(rollout: Rollout): string {
  switch (rollout.state) {
    case 'progressing':
      return rollout.message || `Rolling out: ${rollout.updated} of ${rollout.desired} updated, ${rollout.ready} ready`;
    case 'complete':
      return 'Rolled out';
    case 'failed':
      return `Rollout failed (${rollout.reason})`;
  }
}

function parse(value: string | null | undefined): number | undefined {
  if (!value) return undefined;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : ms;
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

/** How long a release's deploy took (started → finished), when it has finished. */
export function releaseDuration(release: Release): string | undefined {
  const start = parse(release.startedAt) ?? parse(release.queuedAt);
  const end = parse(release.finishedAt);
  if (start === undefined || end === undefined) return undefined;
  return formatDuration(end - start);
}

/** How long a release waited in the queue, when that is worth saying (≥ 1 s). */
export function releaseWait(release: Release): string | undefined {
  const queued = parse(release.queuedAt);
  const started = parse(release.startedAt);
  if (queued === undefined || started === undefined || started - queued < 1000) return undefined;
  return formatDuration(started - queued);
}

/** Whether a release is still moving. */
export function isActive(status: string): boolean {
  return status === 'queued' || status === 'running';
}

/** A value from a diff, short enough for a table cell. */
export function shortValue(value: Value | null | undefined): string {
  if (value === undefined) return '';
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return text.length > 120 ? `${text.slice(0, 117)}…` : text;
}

/** The Kubernetes DNS-label rule that names of applications and namespaces follow. */
export function dnsLabelProblem(value: string, what: string): string | undefined {
  if (!value) return `Enter a ${what}.`;
  if (value.length > 63) return `The ${what} is ${value.length} characters long; at most 63 are allowed.`;
  if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(value)) {
    return `Use lowercase letters, digits and dashes, starting and ending with a letter or digit (like web-2).`;
  }
  return undefined;
}

const HTTP: Record<number, string> = {
  200: 'Nothing to do',
  202: 'Accepted: deploy queued',
  400: 'Bad request (body or parameters)',
  401: 'No token, or a missing or wrong signature',
  404: 'Unknown token',
  408: 'Request too slow',
  409: 'Trigger disabled or application on hold',
  413: 'Body too large',
  415: 'Wrong content type',
  429: 'Throttled: too many bad calls',
  500: 'Internal error',
  503: 'Not ready (storage busy or shutting down)',
};

/** What the listener meant by an HTTP status. */
export function httpMeaning(status: number): string {
  return HTTP[status] ?? (status >= 500 ? 'Server error' : status >= 400 ? 'Rejected' : 'Answered');
}

/** The class of an HTTP status, for styling (never the only signal: the number is shown). */
export function httpClass(status: number): 'accepted' | 'noop' | 'rejected' | 'error' {
  if (status === 202) return 'accepted';
  if (status < 300) return 'noop';
  if (status < 500) return 'rejected';
  return 'error';
}

const DECISIONS: Record<string, string> = {
  triggered: 'Triggered',
  untriggered: 'Not triggered',
  'no-op': 'No-op',
  rejected: 'Rejected',
};

/** A listener decision as a word. */
export function decisionLabel(decision: string): string {
  return DECISIONS[decision] ?? decision;
}

/** A server message as a sentence: capital first letter, full stop at the end. */
export function sentence(message: string): string {
  const text = message.trim();
  if (!text) return text;
  const capital = text.charAt(0).toUpperCase() + text.slice(1);
  return /[.!?…]$/.test(capital) ? capital : `${capital}.`;
}

/** Words for each {@link Health} (the engine decides a workload's health: deploy/live.rs). */
export const HEALTH: Record<Health, string> = {
  ok: 'Healthy',
  progressing: 'Updating',
  degraded: 'A pod cannot start',
  down: 'Unavailable',
};
