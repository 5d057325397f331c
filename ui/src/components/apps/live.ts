/**
 * A release as the deploy events move it, for the live progress view. The worker pushes
 * queued → started (version, object count) → progress (per object, per rollout) → finished;
 * `apply` folds one event into the model. A release already running when the screen opens
 * is seeded from its stored row (`fromRelease`) and continues from the next event.
 */
import type { DeployEvent, Release, ResourceId, ResourceOutcome, Rollout } from '../../lib/backend';
import { plural, resourceKey, resourceLabel } from '../../lib/format';
import { actionLabel, rolloutText } from './format';

export interface LiveRollout {
  id: ResourceId;
  rollout: Rollout;
}

export interface LiveRelease {
  id: number;
  number?: number;
  /** queued, running, succeeded, failed, superseded. */
  status: string;
  version?: number;
  /** How many objects the version holds (known once started). */
  total?: number;
  /** Per-object outcomes, in the order they arrived (one per object). */
  outcomes: ResourceOutcome[];
  /** Rollouts by object key. */
  rollouts: Record<string, LiveRollout>;
  message?: string;
  reason?: string | null;
  /** Milestones in words, newest last (read out by the live region). */
  milestone: string;
  /** When the screen saw it last move (ms), to pick the most recent. */
  touched: number;
}

/** A stored release as a live one (what the events have not told us yet stays unknown). */
export function fromRelease(release: Release): LiveRelease {
  return {
    id: release.id,
    number: release.number,
    status: release.status,
    version: release.templateVersion ?? undefined,
    outcomes: [...release.resources],
    rollouts: {},
    message: release.message || undefined,
    reason: release.reason,
    milestone: release.status === 'running' ? `Release ${release.number} is deploying.` : `Release ${release.number} is queued.`,
    touched: Date.now(),
  };
}

function name(live: LiveRelease): string {
  return live.number !== undefined ? `Release ${live.number}` : 'The release';
}

/** Folds one deploy event into `live` (a new model when `live` is undefined). */
export function apply(live: LiveRelease | undefined, e: DeployEvent): LiveRelease {
  const next: LiveRelease = live ?? {
    id: e.release,
    status: 'queued',
    outcomes: [],
    rollouts: {},
    milestone: '',
    touched: Date.now(),
  };
  next.touched = Date.now();
  const event = e.event;
  switch (event.type) {
    case 'queued':
      next.number = event.number;
      next.status = 'queued';
      next.milestone = `Release ${event.number} queued.`;
      break;
    case 'started':
      next.status = 'running';
      next.version = event.version;
      next.total = event.resources;
      next.outcomes = [];
      next.rollouts = {};
      next.milestone = `${name(next)} started: template version ${event.version}, ${plural(event.resources, 'object')}.`;
      break;
    case 'progress': {
      const p = event.progress;
      if (p.type === 'resource') {
        const outcome: ResourceOutcome = { id: p.id, action: p.action, generation: p.generation, message: p.message };
        const key = resourceKey(p.id);
        const at = next.outcomes.findIndex((o) => resourceKey(o.id) === key);
        if (at >= 0) next.outcomes[at] = outcome;
        else next.outcomes.push(outcome);
        next.milestone = `${resourceLabel(p.id)}: ${actionLabel(p.action).toLowerCase()}.`;
      } else {
        next.rollouts[resourceKey(p.id)] = { id: p.id, rollout: p.rollout };
        if (p.rollout.state !== 'progressing') next.milestone = `${resourceLabel(p.id)}: ${rolloutText(p.rollout).toLowerCase()}.`;
      }
      break;
    }
    case 'finished':
      next.status = event.status;
      next.message = event.message;
      next.reason = event.reason;
      next.milestone = `${name(next)} ${event.status}: ${event.message}${event.reason ? ` (${event.reason})` : ''}`;
      break;
  }
  return next;
}

/**
 * Objects of the version handled so far. Namespaces Tripline created and objects pruned
 * or kept are not in the version's count, so they do not move the bar.
 */
export function done(live: LiveRelease): number {
  const n = live.outcomes.filter((o) => o.action === 'applied' || o.action === 'failed').length;
  return live.total !== undefined ? Math.min(n, live.total) : n;
}
