/**
 * Words for triggers and access records, shared by the Triggers and Access records
 * screens: kind summaries, tag filters, and small parsers (image tags, JSON bodies).
 * Decisions, HTTP statuses, sizes and the name rule are in ../../lib/format.
 */
import type { TagFilter, Trigger, TriggerKind } from '../../lib/backend';
import { plural } from '../../lib/format';
import { valuesText } from './imageOptions';

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
  if (hasMin) return `at least ${plural(min, 'replica')}`;
  if (hasMax) return `at most ${plural(max, 'replica')}`;
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
    case 'semver':
      return `versions ${filter.range}${filter.prerelease ? ', pre-releases too' : ''}`;
  }
}

/** The mode's name as the create form shows it. */
export function filterModeLabel(filter: TagFilter): string {
  switch (filter.mode) {
    case 'all':
      return 'All';
    case 'regex':
      return 'Regex';
    case 'tags':
      return 'Tag list';
    case 'semver':
      return 'Semver';
  }
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
      const branch = kind.branch ? ` · to branch ${kind.branch}` : '';
      const values = kind.values ? ` · values ${valuesText(kind.values)}` : '';
      const containers = kind.containers?.length ? ` · containers ${kind.containers.join(', ')}` : '';
      const downgrades = kind.allow_downgrade ? ' · downgrades allowed' : '';
      const verify =
        kind.verify === 'off' ? ' · not verified' : kind.verify === 'if-reachable' ? ' · unverified when unreachable' : '';
      const watch = kind.watch ? ` · watched every ${kind.watch} s` : '';
      const maturing = kind.maturing ? ` · matures ${kind.maturing} min` : '';
      return `${repos} · ${filterModeLabel(kind.filter)}: ${filterText(kind.filter)}${kind.pin_digest ? ' · pin digest' : ''}${branch}${values}${containers}${downgrades}${verify}${watch}${maturing}`;
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
      'Follows a registry: a push whose tag passes the filter (all, a regex, a list, or a semver range) updates the image, makes a new version and deploys it; never to a lower version than deployed unless allowed.',
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
