import { describe, expect, test } from 'vitest';
import type { Code, References, Revision } from '../../lib/bindings';
import {
  SOURCES,
  chartNameProblem,
  chartRange,
  chartRepositoryProblem,
  chartRevisionText,
  chartVersionProblem,
  diffLines,
  emptyHelmForm,
  helmFieldFor,
  helmProblems,
  helmRequest,
  offersPlainHttp,
  type HelmForm,
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
  test('the switch offers template, Git and Helm, all available', () => {
    expect(SOURCES.map((s) => s.kind)).toEqual(['template', 'git', 'helm']);
    expect(SOURCES.filter((s) => s.unavailable)).toEqual([]);
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

const helmForm = (fields: Partial<HelmForm>): HelmForm => ({
  ...emptyHelmForm(),
  repository: 'https://charts.example.com',
  chart: 'web',
  ...fields,
});

describe('the chart repository', () => {
  test.each(['https://charts.example.com', 'http://127.0.0.1:8080/charts', 'oci://ghcr.io/team/charts', 'OCI://localhost:5000/c'])(
    '%s is usable',
    (url) => {
      expect(chartRepositoryProblem(url)).toBeUndefined();
    },
  );

  test.each([
    ['', /Enter/],
    ['charts.example.com', /https:\/\//],
    ['git://example.com/x', /oci:\/\//],
    ['oci://', /host/],
    ['https://example.com/a b', /spaces/],
  ])('%j is refused', (url, message) => {
    expect(chartRepositoryProblem(url)).toMatch(message);
  });
});

describe('the chart and its version', () => {
  test.each(['nginx', 'my-chart', 'chart_2', 'a.b'])('chart %s is a name', (chart) => {
    expect(chartNameProblem(chart)).toBeUndefined();
  });

  test.each(['', 'a/b', '../x', '-x'])('chart %j is not', (chart) => {
    expect(chartNameProblem(chart)).toBeDefined();
  });

  test.each(['', '1.2.3', '^1.2', '~1.2.3', '>=1.0, <2', '1.x', '1.0.0-rc.1', '^1 || ^2'])('version %j may be sent', (v) => {
    expect(chartVersionProblem(v)).toBeUndefined();
  });

  test.each(['latest!?', 'v1;rm', '1.2 "x"'])('version %j is refused', (v) => {
    expect(chartVersionProblem(v)).toMatch(/exact version/);
  });
});

describe('the Helm form', () => {
  test('a repository and a chart are enough; the values start as {}', () => {
    expect(helmProblems(helmForm({}))).toEqual({});
    expect(emptyHelmForm().values.trim()).toBe('{}');
  });

  test('each field gets its own message', () => {
    const problems = helmProblems(helmForm({ repository: 'ftp://x', chart: '', version: '$', username: 'ci' }));
    expect(Object.keys(problems).sort()).toEqual(['chart', 'repository', 'token', 'version']);
  });

  test('what is sent is trimmed; {} and blank values mean the chart defaults', () => {
    expect(helmRequest(helmForm({ repository: ' oci://r/c ', chart: ' web ', version: ' ^1 ' }))).toEqual({
      repository: 'oci://r/c',
      chart: 'web',
      version: '^1',
      values: '',
      username: null,
      password: null,
      plainHttp: false,
    });
    expect(helmRequest(helmForm({ values: '  ' })).values).toBe('');
    expect(helmRequest(helmForm({ values: 'replicaCount: 2\n' })).values).toBe('replicaCount: 2\n');
  });

  test('plain HTTP is offered, and sent, only for OCI registries off this machine', () => {
    for (const [repository, offered] of [
      ['oci://registry.lan:5000/charts', true],
      ['OCI://Registry.Lan/charts', true],
      ['oci://10.0.0.5/charts', true],
      ['oci://127.0.0.1:5000/charts', false],
      ['oci://localhost:5000/charts', false],
      ['oci://[::1]:5000/charts', false],
      ['oci://127.0.0.1.example.com/charts', true],
      ['https://charts.example.com', false],
      ['http://charts.lan', false],
      ['oci://', false],
      ['', false],
    ] as const) {
      expect(offersPlainHttp(repository), repository).toBe(offered);
      expect(helmRequest(helmForm({ repository, plainHttp: true })).plainHttp, repository).toBe(offered);
    }
    expect(helmRequest(helmForm({ repository: 'oci://registry.lan/c' })).plainHttp).toBe(false);
  });

  test('credentials: both or neither', () => {
    expect(helmRequest(helmForm({ username: ' ci ', token: 't' }))).toMatchObject({ username: 'ci', password: 't' });
    expect(helmRequest(helmForm({ username: 'ci' }))).toMatchObject({ username: null, password: null });
  });
});

describe('which Helm field a refusal is about', () => {
  test.each([
    ['source.auth', 'https://x refused the credentials (HTTP 401); check the username and password', 'token'],
    ['source.unreachable', 'https://x/index.yaml could not be read: connection refused', 'repository'],
    ['source.not_found', 'the repository at https://x has no chart `web`; it lists api, db', 'chart'],
    ['source.not_found', 'chart `web` has no version matching `^2`; its newest versions are 1.1.0', 'version'],
    ['source.not_found', 'chart `web` has no 9.9.9; its newest versions are 1.1.0', 'version'],
    ['source.not_found', 'index.yaml was not found at https://x (HTTP 404)', 'repository'],
    ['source.invalid', '`a/b` is not a chart name', 'chart'],
    ['source.invalid', '`ftp://x` is not a chart repository: use an https:// URL', 'repository'],
    ['source.invalid', 'version `x` is neither a version nor a range (bad); write an exact version', 'version'],
    ['source.invalid', 'the values are a list, not a map of keys such as `replicaCount: 2`', 'values'],
    ['source.invalid', 'helm template failed: values.yaml: bad', 'values'],
    ['source.tool_missing', 'helm is not installed (it is not on PATH)', undefined],
    ['input.invalid', 'namespace "X" is not a DNS label', undefined],
    [undefined, 'boom', undefined],
  ] as [Code | undefined, string, string | undefined][])('%s: %s', (code, message, field) => {
    expect(helmFieldFor(code, message)).toBe(field);
  });
});

describe('a Helm revision', () => {
  const helm: Revision = { type: 'helm', chart: 'web', version: '1.4.2', digest: 'sha256:3f9f05b1c2d4e5f60718293a4b5c6d7e' };

  test('is the version and the digest’s first 12 digits', () => {
    expect(chartRevisionText(helm)).toBe('1.4.2 · 3f9f05b1c2d4');
  });

  test('a commit is not one', () => {
    expect(chartRevisionText({ type: 'git', commit: 'abc', reference: 'main' })).toBeUndefined();
  });

  test.each([
    ['^1.2', '^1.2'],
    [' ', 'newest'],
    ['', 'newest'],
  ])('range %j reads %s', (version, shown) => {
    expect(chartRange({ repository: 'https://x', chart: 'web', version })).toBe(shown);
  });
});

describe('a values diff', () => {
  test('lines are told apart for colouring', () => {
    const diff = '--- values 1\n+++ values 2\n@@ -1,2 +1,2 @@\n a: 1\n-b: 2\n+b: 3\n';
    expect(diffLines(diff).map((l) => l.kind)).toEqual(['header', 'header', 'hunk', 'context', 'removed', 'added']);
  });

  test('no diff, no lines', () => {
    expect(diffLines('')).toEqual([]);
  });
});
