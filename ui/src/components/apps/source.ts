/**
 * Where a new application's manifests come from, for the "New application" dialog: the
 * sources it offers, the Git form's values and their checks, the branch and tag choices a
 * repository offers, and which field a refused save is about. Pure functions, so
 * `source.test.ts` runs them as they are; the engine checks everything again.
 *
 * A source is one entry of {@link SOURCES} plus one sub-form component
 * (`TemplateSourceForm.svelte`, `GitSourceForm.svelte`, `HelmSourceForm.svelte`); adding one
 * is a new entry, a new component and a branch in the dialog's save.
 */
import type { Code, GitSource, HelmSource, References, Revision } from '../../lib/backend';
import { shortDigest } from '../../lib/format';

/** The kinds of source the dialog offers. */
export type SourceKind = 'template' | 'git' | 'helm';

/** One source in the dialog's switch. */
export interface SourceChoice {
  kind: SourceKind;
  label: string;
  /** What it deploys, under the switch. */
  help: string;
  /** Why it cannot be chosen yet (shown instead of the form), when it cannot. */
  unavailable?: string;
}

/** The sources, in the switch's order. */
export const SOURCES: readonly SourceChoice[] = [
  {
    kind: 'template',
    label: 'Template',
    help: 'Deploys a Tripline template at its newest version; edits, trigger patches and image updates add versions.',
  },
  {
    kind: 'git',
    label: 'Git repository',
    help: 'Deploys the manifests in a directory of a repository, at the newest commit of a branch or tag.',
  },
  {
    kind: 'helm',
    label: 'Helm chart',
    help: 'Deploys what a chart renders with your values, at an exact version or the newest in a range.',
  },
];

// ---------- The Git form ----------

/** What the Git form holds. The token stays in the form; nothing shows it again. */
export interface GitForm {
  url: string;
  reference: string;
  path: string;
  username: string;
  token: string;
}

/** An empty Git form: the top directory of the repository. */
export function emptyGitForm(): GitForm {
  return { url: '', reference: '', path: '.', username: '', token: '' };
}

/** The fields of the Git form a message can be about. */
export type GitField = keyof GitForm;

/** A message per field (none when the field is fine). */
export type GitProblems = Partial<Record<GitField, string>>;

const SCHEMES = ['https', 'http', 'git', 'file'];

/** Why `url` is not a repository URL Tripline can fetch, or undefined when it can be. */
export function urlProblem(url: string): string | undefined {
  const text = url.trim();
  if (!text) return 'Enter the repository’s URL.';
  if (/\s/.test(text)) return 'A repository URL has no spaces.';
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(text)?.[1]?.toLowerCase();
  if (scheme === 'ssh' || (!scheme && /^[^/]+@[^/]+:/.test(text))) {
    return 'SSH repositories are not supported yet: use the https URL, with a token.';
  }
  if (!scheme || !SCHEMES.includes(scheme)) {
    return 'Write an https://, http://, git:// or file:// URL.';
  }
  if (text.length <= scheme.length + 3) return 'Add the host and path after the scheme.';
  return undefined;
}

/** Why `path` is not a directory inside the repository, or undefined when it is. */
export function pathProblem(path: string): string | undefined {
  const parts = path.trim().split('/');
  if (parts.includes('..')) return 'The directory must stay inside the repository (no “..”).';
  if (path.includes('\\')) return 'Separate directories with “/”.';
  return undefined;
}

/** What is wrong with the Git form, field by field (empty when it can be saved). */
export function gitProblems(form: GitForm): GitProblems {
  const problems: GitProblems = {
    url: urlProblem(form.url),
    reference: form.reference.trim() ? undefined : 'Choose a branch or tag, or type one (a commit id works too).',
    path: pathProblem(form.path),
    token:
      form.username.trim() && !form.token
        ? 'Add the password or token for this user name, or leave both empty.'
        : undefined,
  };
  return Object.fromEntries(Object.entries(problems).filter(([, v]) => v)) as GitProblems;
}

/** The engine's Git source for the form: trimmed, `.` for an empty path. */
export function gitSource(form: GitForm): GitSource {
  return { url: form.url.trim(), reference: form.reference.trim(), path: form.path.trim() || '.' };
}

/** The credentials to send: both or neither (`null`s when the token is empty). */
export function gitCredentials(form: GitForm): { username: string | null; password: string | null } {
  if (!form.token) return { username: null, password: null };
  return { username: form.username.trim() || null, password: form.token };
}

// ---------- Branches and tags ----------

/** One name a repository offers, with its commit. */
export interface ReferenceChoice {
  name: string;
  commit: string;
}

/** A repository's branches and tags as picker choices: branches by name, tags newest-looking last. */
export function referenceChoices(refs: References): { branches: ReferenceChoice[]; tags: ReferenceChoice[] } {
  const choices = (list: [string, string][]) =>
    list
      .map(([name, commit]) => ({ name, commit }))
      .sort((a, b) => a.name.localeCompare(b.name, undefined, { numeric: true }));
  return { branches: choices(refs.branches), tags: choices(refs.tags) };
}

/** The branch to preselect: `main`, else `master`, else the first one (none without branches). */
export function defaultBranch(refs: References): string | undefined {
  const names = refs.branches.map(([name]) => name);
  return names.find((n) => n === 'main') ?? names.find((n) => n === 'master') ?? names[0];
}

// ---------- Refusals ----------

/**
 * The Git form's field a refused save or listing is about, from its code and message:
 * credentials go to the token (with the user name), a missing branch to the reference, a
 * missing directory to the path, an unreachable server to the URL. `undefined` for a
 * problem of the whole form (invalid manifests, a missing tool).
 */
export function gitFieldFor(code: Code | undefined, message: string): GitField | undefined {
  switch (code) {
    case 'source.auth':
      return 'token';
    case 'source.unreachable':
      return 'url';
    case 'source.not_found':
      if (/no branch or tag|not in the fetched history/i.test(message)) return 'reference';
      if (/no files under/i.test(message)) return 'path';
      return 'url';
    case 'source.unsupported':
      if (/branch|tag|commit/i.test(message)) return 'reference';
      if (/directory/i.test(message)) return 'path';
      return 'url';
    default:
      return undefined;
  }
}

// ---------- Showing a source ----------

/** A repository's short name for tables: the URL's last path segment without `.git`. */
export function repositoryName(url: string): string {
  const path = url.trim().replace(/[?#].*$/, '').replace(/\/+$/, '');
  const last = path.slice(path.lastIndexOf('/') + 1).replace(/\.git$/, '');
  return last || path;
}

// ---------- The Helm form ----------

/** What the Helm form holds. The token stays in the form; nothing shows it again. */
export interface HelmForm {
  repository: string;
  chart: string;
  /** An exact version, a range (`^1.2`), or empty for the newest stable version. */
  version: string;
  /** YAML: a map of keys (values version 1). */
  values: string;
  username: string;
  token: string;
  /** Plain HTTP to an OCI registry off this machine (see {@link offersPlainHttp}). */
  plainHttp: boolean;
}

/** An empty Helm form: the chart's default values, the newest stable version. */
export function emptyHelmForm(): HelmForm {
  return { repository: '', chart: '', version: '', values: '{}\n', username: '', token: '', plainHttp: false };
}

/**
 * Whether the repository is an OCI registry path off this machine, the one case where plain
 * HTTP is a choice: loopback registries always get plain HTTP, `https://` and `http://`
 * chart repositories say their scheme themselves.
 */
export function offersPlainHttp(repository: string): boolean {
  const host = /^oci:\/\/([^/]+)/i.exec(repository.trim())?.[1]?.toLowerCase();
  if (!host) return false;
  const name = host.startsWith('[') ? host.slice(0, host.indexOf(']') + 1) : host.replace(/:\d+$/, '');
  return !['localhost', '[::1]'].includes(name) && !/^127\.\d+\.\d+\.\d+$/.test(name);
}

/** The fields of the Helm form a message can be about. */
export type HelmField = keyof HelmForm;

/** A message per field (none when the field is fine). */
export type HelmProblems = Partial<Record<HelmField, string>>;

/** Why `url` is not a chart repository or OCI registry path, or undefined when it can be. */
export function chartRepositoryProblem(url: string): string | undefined {
  const text = url.trim();
  if (!text) return 'Enter the chart repository’s URL or an oci:// registry path.';
  if (/\s/.test(text)) return 'A repository URL has no spaces.';
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(text)?.[1]?.toLowerCase();
  if (!scheme || !['https', 'http', 'oci'].includes(scheme)) {
    return 'Write an https:// URL of a repository with an index.yaml, or an oci://host/path registry path.';
  }
  if (text.length <= scheme.length + 3) return 'Add the host and path after the scheme.';
  return undefined;
}

/** Why `chart` is not a chart name, or undefined when it is. */
export function chartNameProblem(chart: string): string | undefined {
  const text = chart.trim();
  if (!text) return 'Enter the chart’s name, such as nginx.';
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(text)) return 'A chart name has letters, digits, “.”, “_” and “-” only.';
  return undefined;
}

/**
 * Why `version` is neither empty, a version nor a range, or undefined when it may be one. Only
 * the characters are checked; the engine parses the range and says what is wrong with it.
 */
export function chartVersionProblem(version: string): string | undefined {
  const text = version.trim();
  if (!text) return undefined;
  if (!/^[0-9A-Za-z.^~<>=!*xX|, +-]+$/.test(text)) {
    return 'Write an exact version such as 1.2.3, or a range such as ^1.2, ~1.2.3 or >=1.0, <2.';
  }
  return undefined;
}

/** What is wrong with the Helm form, field by field (empty when it can be saved). */
export function helmProblems(form: HelmForm): HelmProblems {
  const problems: HelmProblems = {
    repository: chartRepositoryProblem(form.repository),
    chart: chartNameProblem(form.chart),
    version: chartVersionProblem(form.version),
    token:
      form.username.trim() && !form.token
        ? 'Add the password or token for this user name, or leave both empty.'
        : undefined,
  };
  return Object.fromEntries(Object.entries(problems).filter(([, v]) => v)) as HelmProblems;
}

/** The chart part of a new Helm application: trimmed; blank values mean the chart's defaults. */
export function helmRequest(form: HelmForm): {
  repository: string;
  chart: string;
  version: string;
  values: string;
  username: string | null;
  password: string | null;
  plainHttp: boolean;
} {
  const values = form.values.trim() === '' || form.values.trim() === '{}' ? '' : form.values;
  return {
    repository: form.repository.trim(),
    chart: form.chart.trim(),
    version: form.version.trim(),
    values,
    plainHttp: form.plainHttp && offersPlainHttp(form.repository),
    ...gitCredentials({ ...emptyGitForm(), username: form.username, token: form.token }),
  };
}

/**
 * The Helm form's field a refused save or version listing is about: credentials go to the
 * token, a missing chart or version to that field, bad values to the values, an unreachable
 * or unusable repository to its URL. `undefined` for a missing `helm` (the dialog shows a
 * banner) and for problems of the whole form.
 */
export function helmFieldFor(code: Code | undefined, message: string): HelmField | undefined {
  switch (code) {
    case 'source.auth':
      return 'token';
    case 'source.unreachable':
      return 'repository';
    case 'source.not_found':
      if (/has no (version|[~^<>=0-9])/i.test(message)) return 'version';
      if (/no chart|chart `/i.test(message)) return 'chart';
      return 'repository';
    case 'source.invalid':
      if (/not a chart name/i.test(message)) return 'chart';
      if (/not a chart repository|index/i.test(message)) return 'repository';
      if (/neither a version nor a range/i.test(message)) return 'version';
      return 'values';
    case 'source.unsupported':
      return 'repository';
    default:
      return undefined;
  }
}

// ---------- Showing a source ----------

/** A Helm source's version as configured: the range, or "newest" when there is none. */
export function chartRange(source: HelmSource): string {
  return source.version.trim() || 'newest';
}

/** A chart revision as "1.4.2 · 3f9f05b1c2d4" (the version and the digest's start). */
export function chartRevisionText(revision: Revision): string | undefined {
  return revision.type === 'helm' ? `${revision.version} · ${shortDigest(revision.digest)}` : undefined;
}

// ---------- Values diffs ----------

/** What a line of a unified diff is, for colouring. */
export type DiffLineKind = 'added' | 'removed' | 'hunk' | 'header' | 'context';

/** One line of a unified diff with its kind. */
export function diffLines(diff: string): { kind: DiffLineKind; text: string }[] {
  if (!diff) return [];
  const lines = diff.replace(/\n$/, '').split('\n');
  return lines.map((text) => {
    let kind: DiffLineKind = 'context';
    if (text.startsWith('+++ ') || text.startsWith('--- ')) kind = 'header';
    else if (text.startsWith('@@')) kind = 'hunk';
    else if (text.startsWith('+')) kind = 'added';
    else if (text.startsWith('-')) kind = 'removed';
    return { kind, text };
  });
}
