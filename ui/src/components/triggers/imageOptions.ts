/**
 * The options of an image trigger that depend on its application's source, for the "New
 * trigger" dialog: a Git application's write-back branch, a Helm application's values keys,
 * and the containers a template or Git application's trigger may change; and the first checks
 * of a semver range. Pure functions, so `imageOptions.test.ts` runs them as they are. The
 * checks mirror the engine's (`check_branch` in `source/writeback.rs`, `key_path` and
 * `ImageValues::validate` in `source/helm/values.rs`, `check_containers` in `trigger/mod.rs`,
 * `Range::parse` in `trigger/semver.rs`) to say what is wrong while it is typed; the engine
 * checks again, and its preview names what is wrong inside a range.
 */
import type { ImageValues, Source } from '../../lib/backend';
import { dnsLabelProblem } from '../../lib/format';

/**
 * Which source-dependent options an image trigger offers: `branch` (Git), `values` (Helm),
 * `containers` (template and Git: a Helm chart's images are values keys, not containers).
 */
export function imageOptionsFor(source: Source | undefined): { branch: boolean; values: boolean; containers: boolean } {
  return { branch: source?.type === 'git', values: source?.type === 'helm', containers: source?.type !== 'helm' };
}

/** The most containers a trigger may name (the engine's limit). */
export const MAX_CONTAINERS = 64;

/** Container names as typed: separated by commas, spaces or new lines, each once. */
export function splitContainers(text: string): string[] {
  return [...new Set(text.split(/[\s,]+/).filter(Boolean))];
}

/** Why the names are not containers a trigger can name, or undefined when they are (none is fine). */
export function containersProblem(names: readonly string[]): string | undefined {
  if (names.length > MAX_CONTAINERS) {
    return `A trigger names at most ${MAX_CONTAINERS} containers; this one names ${names.length}.`;
  }
  for (const name of names) {
    const problem = dnsLabelProblem(name, 'container name');
    if (problem) return `“${name}” is not a container name. ${problem}`;
  }
  return undefined;
}

/** The longest semver range the engine takes. */
export const MAX_RANGE = 256;

/**
 * Why `range` cannot be a semver range, from what can be seen at once (empty, too long, a
 * character no range uses), or undefined. Whether it parses is the engine's answer, shown by
 * the preview.
 */
export function semverRangeProblem(range: string): string | undefined {
  if (!range.trim()) return 'Enter a semver range, such as ^1.4, ~2.3.1 or >=1.0 <2.';
  if (range.length > MAX_RANGE) return `A semver range is at most ${MAX_RANGE} characters long.`;
  const bad = /[^A-Za-z0-9 \t.,\-+*<>=^~|]/.exec(range)?.[0];
  if (bad !== undefined) return `A semver range has no “${bad}”: write one such as ^1.4, ~2.3.1 or >=1.0 <2.`;
  return undefined;
}

/** The reference a Git application follows, for the branch field's words; undefined otherwise. */
export function trackedReference(source: Source | undefined): string | undefined {
  return source?.type === 'git' ? source.reference : undefined;
}

/** The longest branch name the engine takes. */
export const MAX_BRANCH_LENGTH = 255;

/**
 * Why `name` is not a branch a trigger can write to (as `git check-ref-format --branch`
 * says, and no `refs/` prefix), or undefined when it is one. An empty name is fine: the
 * trigger then writes to the tracked branch.
 */
export function branchProblem(name: string): string | undefined {
  if (!name) return undefined;
  if (name !== name.trim()) return 'A branch name has no spaces at either end.';
  if (name.length > MAX_BRANCH_LENGTH) return `A branch name is at most ${MAX_BRANCH_LENGTH} characters long.`;
  const bad = /[\u0000-\u001f\u007f ~^:?*[\\]/.exec(name)?.[0];
  if (bad !== undefined) {
    const shown = bad === ' ' ? 'a space' : bad < ' ' || bad === '\u007f' ? 'a control character' : `“${bad}”`;
    return `Git does not allow ${shown} in a branch name.`;
  }
  if (name.startsWith('-')) return 'A branch name cannot start with a dash.';
  if (name === 'HEAD' || name === '@') return `${name} names something else in Git; choose another name.`;
  if (name.startsWith('refs/')) return 'Write the branch’s own name (images, not refs/heads/images).';
  if (name.includes('..')) return 'A branch name cannot hold “..”.';
  if (name.includes('@{')) return 'A branch name cannot hold “@{”.';
  if (name.startsWith('/') || name.endsWith('/') || name.includes('//')) {
    return 'A branch name cannot begin or end with “/”, or have two in a row.';
  }
  if (name.endsWith('.')) return 'A branch name cannot end with a dot.';
  for (const part of name.split('/')) {
    if (part.startsWith('.')) return `“${part}”: a part of a branch name cannot start with a dot.`;
    if (part.endsWith('.lock')) return `“${part}”: a part of a branch name cannot end with “.lock”.`;
  }
  return undefined;
}

/** The engine's limits on a values key. */
export const MAX_KEY_LENGTH = 256;
export const MAX_KEY_SEGMENTS = 32;

/**
 * A values key's parts (`backend.image.tag` → `[backend, image, tag]`; `\.` is a dot inside a
 * key and `\\` a backslash, as `helm --set` reads them), or what is wrong with it.
 */
export function keyPath(key: string): { path: string[] } | { problem: string } {
  if (!key.trim()) return { problem: 'Enter a values key, a dotted path such as image.tag.' };
  if (key.length > MAX_KEY_LENGTH) return { problem: `A values key is at most ${MAX_KEY_LENGTH} characters long.` };
  if (/[\u0000-\u001f\u007f]/.test(key)) return { problem: 'A values key has no control characters.' };
  const path = [''];
  for (let i = 0; i < key.length; i++) {
    const c = key[i] ?? '';
    if (c === '\\') {
      const next = key[i + 1];
      if (next !== '.' && next !== '\\') {
        return { problem: 'A backslash escapes a dot (\\.) or a backslash (\\\\), nothing else.' };
      }
      path[path.length - 1] += next;
      i++;
    } else if (c === '.') {
      path.push('');
    } else {
      path[path.length - 1] += c;
    }
  }
  if (path.length > MAX_KEY_SEGMENTS) {
    return { problem: `A values key is at most ${MAX_KEY_SEGMENTS} keys deep; this one is ${path.length}.` };
  }
  const empty = path.indexOf('');
  if (empty === 0) return { problem: 'A values key cannot start with a dot.' };
  if (empty === path.length - 1) return { problem: 'A values key cannot end with a dot.' };
  if (empty > 0) return { problem: 'A values key cannot have two dots in a row.' };
  const padded = path.find((p) => p !== p.trim());
  if (padded !== undefined) return { problem: `“${padded}” begins or ends with a space.` };
  return { path };
}

/** Why `key` is not a values key, or undefined when it is one. */
export function keyProblem(key: string): string | undefined {
  const read = keyPath(key);
  return 'problem' in read ? read.problem : undefined;
}

/** How the values take the image: the chart's defaults, two keys, or one key. */
export type ValuesMode = 'default' | 'split' | 'whole';

/** What the values part of the form holds. */
export interface ValuesForm {
  mode: ValuesMode;
  repository: string;
  tag: string;
  image: string;
}

/** The form as it opens: `helm create`'s keys, ready to be changed. */
export function emptyValuesForm(): ValuesForm {
  return { mode: 'default', repository: 'image.repository', tag: 'image.tag', image: 'image' };
}

/**
 * What is wrong with the values part, field by field (empty when it is fine). Keys are read
 * trimmed, as {@link imageValues} sends them.
 */
export function valuesProblems(form: ValuesForm): Partial<Record<'repository' | 'tag' | 'image', string>> {
  if (form.mode === 'default') return {};
  if (form.mode === 'whole') {
    const image = keyProblem(form.image.trim());
    return image ? { image } : {};
  }
  const repository = keyPath(form.repository.trim());
  const tag = keyPath(form.tag.trim());
  const problems: Partial<Record<'repository' | 'tag', string>> = {};
  if ('problem' in repository) problems.repository = repository.problem;
  if ('problem' in tag) problems.tag = tag.problem;
  if ('path' in repository && 'path' in tag) {
    const [shorter, longer] = repository.path.length <= tag.path.length ? [repository.path, tag.path] : [tag.path, repository.path];
    if (shorter.every((part, i) => longer[i] === part)) {
      problems.tag =
        shorter.length === longer.length
          ? 'The repository and the tag need keys of their own.'
          : 'One key is inside the other, so both cannot hold a value.';
    }
  }
  return problems;
}

/** The engine's values keys for the form: `null` for the chart's defaults. */
export function imageValues(form: ValuesForm): ImageValues | null {
  switch (form.mode) {
    case 'default':
      return null;
    case 'split':
      return { form: 'split', repository: form.repository.trim(), tag: form.tag.trim() };
    case 'whole':
      return { form: 'whole', image: form.image.trim() };
  }
}

/** "image.repository and image.tag", "web.image (repository:tag)": as the engine says it. */
export function valuesText(values: ImageValues | null | undefined): string {
  if (!values) return 'image.repository and image.tag';
  return values.form === 'split' ? `${values.repository} and ${values.tag}` : `${values.image} (repository:tag)`;
}

/** The watch interval's bounds, in seconds (the engine's `MIN_WATCH_INTERVAL`, `MAX_WATCH_INTERVAL`). */
export const WATCH_SECONDS = { min: 5, max: 86_400 } as const;
/** The longest maturing delay, in minutes (a week: the engine's `MAX_MATURING`). */
export const MAX_MATURING_MINUTES = 7 * 24 * 60;

/** A whole number from a field, or why it is not one. */
function wholeNumber(text: string, what: string): { value: number | null; error?: string } {
  const t = text.trim();
  if (!t) return { value: null };
  if (!/^\d+$/.test(t)) return { value: null, error: `${what} must be a whole number.` };
  return { value: Number(t) };
}

/** The watch interval typed, in seconds: required once watching is on, within the engine's bounds. */
export function watchSeconds(text: string): { value: number | null; error?: string } {
  const read = wholeNumber(text, 'The interval');
  if (read.error) return read;
  if (read.value === null) return { value: null, error: 'Say how often to ask, in seconds.' };
  if (read.value < WATCH_SECONDS.min || read.value > WATCH_SECONDS.max) {
    return {
      value: null,
      error: `The interval must be between ${WATCH_SECONDS.min} and ${WATCH_SECONDS.max} seconds (a day).`,
    };
  }
  return read;
}

/** The maturing delay typed, in minutes; empty or 0 is none. */
export function maturingMinutes(text: string): { value: number | null; error?: string } {
  const read = wholeNumber(text, 'The maturing delay');
  if (read.error) return read;
  if (read.value === null || read.value === 0) return { value: null };
  if (read.value > MAX_MATURING_MINUTES) {
    return { value: null, error: `The maturing delay is at most ${MAX_MATURING_MINUTES} minutes (a week).` };
  }
  return read;
}
