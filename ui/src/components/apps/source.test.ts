import { describe, expect, test } from 'vitest';
import type { Code, References } from '../../lib/bindings';
import {
  SOURCES,
  defaultBranch,
  emptyGitForm,
  gitCredentials,
  gitFieldFor,
  gitProblems,
  gitSource,
  pathProblem,
  referenceChoices,
  repositoryName,
  urlProblem,
  type GitForm,
} from './source';

const form = (fields: Partial<GitForm>): GitForm => ({
  ...emptyGitForm(),
  url: 'https://git.example.com/team/deploy.git',
  reference: 'main',
  ...fields,
});

describe('sources', () => {
  test('the switch offers template, Git and Helm, Helm not yet', () => {
    expect(SOURCES.map((s) => s.kind)).toEqual(['template', 'git', 'helm']);
    expect(SOURCES.filter((s) => s.unavailable).map((s) => s.kind)).toEqual(['helm']);
  });
});

describe('the repository URL', () => {
  test.each([
    'https://git.example.com/team/deploy.git',
    'http://localhost:3000/deploy',
    'git://localhost/deploy',
    'file:///tmp/repo',
    'HTTPS://Example.com/x',
  ])('%s is fetchable', (url) => {
    expect(urlProblem(url)).toBeUndefined();
  });

  test.each([
    ['', /Enter/],
    ['   ', /Enter/],
    ['ssh://git@example.com/x.git', /SSH/],
    ['git@github.com:team/deploy.git', /SSH/],
    ['github.com/team/deploy', /https:\/\//],
    ['ftp://example.com/x', /https:\/\//],
    ['https://', /host/],
    ['https://example.com/a b', /spaces/],
  ])('%j is refused', (url, message) => {
    expect(urlProblem(url)).toMatch(message);
  });
});

describe('the directory', () => {
  test.each(['.', '', 'deploy/prod', '/deploy', 'deploy/'])('%j stays inside', (path) => {
    expect(pathProblem(path)).toBeUndefined();
  });

  test.each(['..', 'deploy/../../etc', 'deploy\\prod'])('%j is refused', (path) => {
    expect(pathProblem(path)).toBeDefined();
  });
});

describe('the Git form', () => {
  test('a URL and a branch are enough', () => {
    expect(gitProblems(form({}))).toEqual({});
  });

  test('each field gets its own message', () => {
    const problems = gitProblems(form({ url: '', reference: ' ', path: '../x', username: 'ci' }));
    expect(Object.keys(problems).sort()).toEqual(['path', 'reference', 'token', 'url']);
  });

  test('a token without a user name is fine (the engine names the user)', () => {
    expect(gitProblems(form({ token: 'secret' }))).toEqual({});
  });

  test('what is sent is trimmed, with . for an empty directory', () => {
    expect(gitSource(form({ url: ' file:///r ', reference: ' v1 ', path: ' ' }))).toEqual({
      url: 'file:///r',
      reference: 'v1',
      path: '.',
    });
  });

  test.each([
    [{}, { username: null, password: null }],
    [{ username: 'ci' }, { username: null, password: null }],
    [{ token: 't' }, { username: null, password: 't' }],
    [{ username: ' ci ', token: 't' }, { username: 'ci', password: 't' }],
  ] as [Partial<GitForm>, ReturnType<typeof gitCredentials>][])('credentials %#', (fields, sent) => {
    expect(gitCredentials(form(fields))).toEqual(sent);
  });
});

describe('branches and tags', () => {
  const refs: References = {
    branches: [
      ['release-10', 'c'],
      ['main', 'a'],
      ['release-9', 'b'],
    ],
    tags: [['v1.10.0', 'd'], ['v1.9.0', 'e']],
  };

  test('sorted by name, numbers in order', () => {
    const { branches, tags } = referenceChoices(refs);
    expect(branches.map((b) => b.name)).toEqual(['main', 'release-9', 'release-10']);
    expect(tags).toEqual([
      { name: 'v1.9.0', commit: 'e' },
      { name: 'v1.10.0', commit: 'd' },
    ]);
  });

  test.each([
    [refs, 'main'],
    [{ branches: [['dev', 'x'], ['master', 'y']], tags: [] }, 'master'],
    [{ branches: [['dev', 'x']], tags: [] }, 'dev'],
    [{ branches: [], tags: [['v1', 'z']] }, undefined],
  ] as [References, string | undefined][])('default branch %#', (r, name) => {
    expect(defaultBranch(r)).toBe(name);
  });
});

describe('which field a refusal is about', () => {
  test.each([
    ['source.auth', 'https://x: the server refused the credentials; check the user name and token', 'token'],
    ['source.unreachable', 'https://x: could not connect', 'url'],
    ['source.not_found', 'https://x: no branch or tag named "dev" (it may have been deleted)', 'reference'],
    ['source.not_found', 'https://x: commit 3f9f05b1c2d4 has no files under deploy/', 'path'],
    ['source.not_found', 'https://x: repository not found', 'url'],
    ['source.unsupported', '"x y" is not a branch, tag or commit name', 'reference'],
    ['source.unsupported', '"../x": the manifests\' directory must stay inside the repository', 'path'],
    ['source.unsupported', 'ssh://x: ssh repositories are not supported yet', 'url'],
    ['source.invalid', 'https://x: . holds no .yaml or .yml manifests at commit 3f9f', undefined],
    ['source.tool_missing', 'kubectl is not installed', undefined],
    [undefined, 'boom', undefined],
  ] as [Code | undefined, string, string | undefined][])('%s: %s', (code, message, field) => {
    expect(gitFieldFor(code, message)).toBe(field);
  });
});

describe('a repository in a table', () => {
  test.each([
    ['https://github.com/team/deploy.git', 'deploy'],
    ['https://github.com/team/deploy/', 'deploy'],
    ['file:///tmp/tripline-e2e-git-x1', 'tripline-e2e-git-x1'],
    ['https://example.com/r.git?x=1', 'r'],
    ['https://', 'https:'],
  ])('%s is %s', (url, name) => {
    expect(repositoryName(url)).toBe(name);
  });
});
