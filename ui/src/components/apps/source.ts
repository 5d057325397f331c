/**
 * Where a new application's manifests come from, for the "New application" dialog: the
 * sources it offers, the Git form's values and their checks, the branch and tag choices a
 * repository offers, and which field a refused save is about. Pure functions, so
 * `source.test.ts` runs them as they are; the engine checks everything again.
 *
 * A source is one entry of {@link SOURCES} plus one sub-form component
 * (`TemplateSourceForm.svelte`, `GitSourceForm.svelte`); adding one is a new entry, a new
 * component and a branch in the dialog's save.
 */
import type { Code, GitSource, References } from '../../lib/backend';

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
    help: 'Deploys what a chart version renders.',
    unavailable: 'Helm charts arrive with the next update.',
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
