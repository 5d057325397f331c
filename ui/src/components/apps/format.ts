/**
 * Words for the application screens: clusters, causes, actions, how long a release took and
 * the event parameters a trigger call carried. Pure functions, so every screen says things
 * the same way; objects, durations, decisions and HTTP statuses are worded by
 * ../../lib/format.
 */
import type { Action, Cause, ClusterRef, Health, Release, Rollout, Value } from '../../lib/backend';
import { formatDuration, shortCommit } from '../../lib/format';

/** "sandbox" or the kubeconfig context's name. */
export function clusterName(ref: ClusterRef): string {
  return ref.type === 'sandbox' ? 'sandbox' : ref.name;
}

/** A stable key for a cluster reference (for selects and comparisons). */
export function clusterKey(ref: ClusterRef): string {
  return ref.type === 'sandbox' ? 'sandbox' : `context:${ref.name}`;
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
  ['commit', 'Commit'],
  ['branch', 'Branch'],
  ['values', 'Values version'],
];

/**
 * The parameters a trigger call carried, as label/value pairs: a registry push (image, tag,
 * digest, …, and what it made: the template version, the commit and its branch, or the values
 * version), a scale request (direction and step) or a patch (its targets).
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
    if (value) params.push({ label, value: key === 'commit' ? shortCommit(value) : value });
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

/** Words for each {@link Health} (the engine decides a workload's health: deploy/live.rs). */
export const HEALTH: Record<Health, string> = {
  ok: 'Healthy',
  progressing: 'Updating',
  degraded: 'A pod cannot start',
  down: 'Unavailable',
};
