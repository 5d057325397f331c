import { describe, expect, test } from 'vitest';
import type { Source, TriggerKind } from '../../lib/bindings';
import { kindDetail } from './format';
import {
  branchProblem,
  containersProblem,
  semverRangeProblem,
  splitContainers,
  emptyValuesForm,
  imageOptionsFor,
  imageValues,
  keyPath,
  keyProblem,
  maturingMinutes,
  trackedReference,
  valuesProblems,
  valuesText,
  watchSeconds,
  type ValuesForm,
} from './imageOptions';

const git: Source = { type: 'git', url: 'https://git.example/web.git', reference: 'main', path: 'deploy', template: 'web' };
const helm: Source = {
  type: 'helm',
  repository: 'https://charts.example',
  chart: 'web',
  version: '^1',
  template: 'web',
};
const template: Source = { type: 'template', template: 'web' };

describe('which options an application offers', () => {
  test.each([
    [git, { branch: true, values: false, containers: true }],
    [helm, { branch: false, values: true, containers: false }],
    [template, { branch: false, values: false, containers: true }],
    [undefined, { branch: false, values: false, containers: true }],
  ])('%o', (source, expected) => {
    expect(imageOptionsFor(source)).toEqual(expected);
  });

  test('the tracked reference is a Git application’s', () => {
    expect(trackedReference(git)).toBe('main');
    expect(trackedReference(helm)).toBeUndefined();
  });
});

describe('the write-back branch', () => {
  test.each(['', 'tripline/images', 'release-1.2', 'feature/a.b_c', 'ünïcode', 'a@b'])('%s is fine', (name) => {
    expect(branchProblem(name)).toBeUndefined();
  });

  test.each([
    ['a..b', /“\.\.”/],
    ['two words', /a space/],
    [' main', /spaces at either end/],
    ['a~1', /“~”/],
    ['a^', /“\^”/],
    ['a:b', /“:”/],
    ['what?', /“\?”/],
    ['a*', /“\*”/],
    ['a[b', /“\[”/],
    ['a\\b', /“\\”/],
    ['tab\there', /control character/],
    ['-x', /dash/],
    ['HEAD', /something else/],
    ['@', /something else/],
    ['refs/heads/x', /own name/],
    ['a@{1}', /“@\{”/],
    ['end/', /“\/”/],
    ['/start', /“\/”/],
    ['a//b', /“\/”/],
    ['ends.', /end with a dot/],
    ['.hidden', /start with a dot/],
    ['a/.b', /start with a dot/],
    ['x.lock', /“\.lock”/],
    ['b'.repeat(256), /at most 255/],
  ])('%s is refused', (name, said) => {
    expect(branchProblem(name)).toMatch(said);
  });
});

describe('values keys', () => {
  test('dotted paths, with \\. for a dot inside a key', () => {
    expect(keyPath('backend.image.tag')).toEqual({ path: ['backend', 'image', 'tag'] });
    expect(keyPath('podAnnotations.example\\.com/tag')).toEqual({ path: ['podAnnotations', 'example.com/tag'] });
    expect(keyPath('a\\\\b')).toEqual({ path: ['a\\b'] });
  });

  test.each([
    ['', /Enter a values key/],
    ['  ', /Enter a values key/],
    ['.image', /start with a dot/],
    ['image.', /end with a dot/],
    ['image..tag', /two dots in a row/],
    ['a\\b', /backslash escapes/],
    ['a. b', /begins or ends with a space/],
    ['a\tb', /control characters/],
    [Array.from({ length: 33 }, () => 'k').join('.'), /32 keys deep/],
    ['k'.repeat(257), /at most 256/],
  ])('%j is refused', (key, said) => {
    expect(keyProblem(key)).toMatch(said);
  });

  const form = (fields: Partial<ValuesForm>): ValuesForm => ({ ...emptyValuesForm(), ...fields });

  test('the chart’s defaults need nothing and send nothing', () => {
    expect(valuesProblems(emptyValuesForm())).toEqual({});
    expect(imageValues(emptyValuesForm())).toBeNull();
    // Keys typed, then the defaults chosen again: the defaults win.
    expect(imageValues(form({ repository: 'x..y' }))).toBeNull();
  });

  test('two keys of the chart’s own', () => {
    const split = form({ mode: 'split', repository: ' backend.image.repo ', tag: 'backend.image.tag' });
    expect(valuesProblems(split)).toEqual({});
    expect(imageValues(split)).toEqual({ form: 'split', repository: 'backend.image.repo', tag: 'backend.image.tag' });
  });

  test.each([
    [{ repository: 'image', tag: 'image' }, { tag: /keys of their own/ }],
    [{ repository: 'image', tag: 'image.tag' }, { tag: /inside the other/ }],
    [{ repository: 'a.b.c', tag: 'a.b' }, { tag: /inside the other/ }],
    [{ repository: 'a..b', tag: '' }, { repository: /two dots/, tag: /Enter/ }],
  ])('%o is refused', (keys, expected) => {
    const problems = valuesProblems(form({ mode: 'split', ...keys }));
    expect(Object.keys(problems).sort()).toEqual(Object.keys(expected).sort());
    for (const [field, said] of Object.entries(expected)) {
      expect(problems[field as keyof typeof problems]).toMatch(said);
    }
  });

  test('one key for the whole reference', () => {
    expect(imageValues(form({ mode: 'whole', image: 'web.image' }))).toEqual({ form: 'whole', image: 'web.image' });
    expect(valuesProblems(form({ mode: 'whole', image: 'web..image' })).image).toMatch(/two dots/);
  });

  test('as the engine says them', () => {
    expect(valuesText(null)).toBe('image.repository and image.tag');
    expect(valuesText({ form: 'split', repository: 'a.repo', tag: 'a.tag' })).toBe('a.repo and a.tag');
    expect(valuesText({ form: 'whole', image: 'web.image' })).toBe('web.image (repository:tag)');
  });
});

describe('a trigger’s one-line detail', () => {
  const image = (fields: Partial<Extract<TriggerKind, { type: 'image' }>>): TriggerKind => ({
    type: 'image',
    repositories: ['ghcr.io/acme/web'],
    filter: { mode: 'all' },
    ...fields,
  });

  test('names the semver range, the containers and allowed downgrades', () => {
    expect(kindDetail(image({ filter: { mode: 'semver', range: '^1.4', prerelease: false } }))).toBe(
      'ghcr.io/acme/web · Semver: versions ^1.4',
    );
    expect(
      kindDetail(
        image({
          filter: { mode: 'semver', range: '>=1.0 <2', prerelease: true },
          containers: ['web', 'migrate'],
          allow_downgrade: true,
        }),
      ),
    ).toBe('ghcr.io/acme/web · Semver: versions >=1.0 <2, pre-releases too · containers web, migrate · downgrades allowed');
  });

  test('says how pushes are checked, watched and matured', () => {
    expect(kindDetail(image({ pin_digest: true, verify: 'if-reachable', watch: 60, maturing: 15 }))).toBe(
      'ghcr.io/acme/web · All: every tag · pin digest · unverified when unreachable · watched every 60 s · matures 15 min',
    );
    expect(kindDetail(image({ verify: 'off' }))).toBe('ghcr.io/acme/web · All: every tag · not verified');
    expect(kindDetail(image({ verify: 'required', watch: null, maturing: null }))).toBe(
      'ghcr.io/acme/web · All: every tag',
    );
  });

  test('names the branch and the values keys when there are some', () => {
    expect(kindDetail(image({}))).toBe('ghcr.io/acme/web · All: every tag');
    expect(kindDetail(image({ branch: 'tripline/images' }))).toBe(
      'ghcr.io/acme/web · All: every tag · to branch tripline/images',
    );
    expect(kindDetail(image({ values: { form: 'whole', image: 'web.image' } }))).toBe(
      'ghcr.io/acme/web · All: every tag · values web.image (repository:tag)',
    );
  });
});

describe('the containers a trigger may change', () => {
  test('are split on commas, spaces and new lines, each once', () => {
    expect(splitContainers(' web, migrate\nweb  sidecar,')).toEqual(['web', 'migrate', 'sidecar']);
    expect(splitContainers('  ')).toEqual([]);
  });

  test.each([[[]], [['web']], [['web', 'log-shipper-2']], [['a'.repeat(63)]]])('%j is fine', (names) => {
    expect(containersProblem(names)).toBeUndefined();
  });

  test.each([
    [['Web'], /“Web” is not a container name\. Use lower-case letters/],
    [['web_1'], /“web_1”/],
    [['-web'], /starting and ending/],
    [['a'.repeat(64)], /at most 63 characters/],
    [Array.from({ length: 65 }, (_, i) => `c${i}`), /at most 64 containers; this one names 65/],
  ])('%j is refused', (names, said) => {
    expect(containersProblem(names)).toMatch(said);
  });
});

describe('a semver range, at a glance', () => {
  test.each(['^1.4', '~2.3.1', '>=1.0 <2', '>=1.0, <2', '1.x', '*', '1.2 - 1.4', '^1 || ^3', 'v1.4.2-rc.1+b'])(
    '%s passes the first checks',
    (range) => {
      expect(semverRangeProblem(range)).toBeUndefined();
    },
  );

  test.each([
    ['', /Enter a semver range/],
    ['   ', /Enter a semver range/],
    ['1'.repeat(257), /at most 256 characters/],
    ['^1.4; rm', /no “;”/],
    ['>=1.0 <2/', /no “\/”/],
  ])('%j is refused', (range, said) => {
    expect(semverRangeProblem(range)).toMatch(said);
  });
});

describe('registry options', () => {
  test('reads the watch interval within the engine bounds', () => {
    expect(watchSeconds('300')).toEqual({ value: 300 });
    expect(watchSeconds(' 5 ')).toEqual({ value: 5 });
    expect(watchSeconds('86400')).toEqual({ value: 86_400 });
    expect(watchSeconds('4').error).toMatch(/between 5 and 86400/);
    expect(watchSeconds('86401').error).toMatch(/between 5 and 86400/);
    expect(watchSeconds('').error).toMatch(/how often/);
    expect(watchSeconds('1e3').error).toMatch(/whole number/);
    expect(watchSeconds('-5').error).toMatch(/whole number/);
  });

  test('reads the maturing delay, empty or zero being none', () => {
    expect(maturingMinutes('')).toEqual({ value: null });
    expect(maturingMinutes('0')).toEqual({ value: null });
    expect(maturingMinutes('30')).toEqual({ value: 30 });
    expect(maturingMinutes('10080')).toEqual({ value: 10_080 });
    expect(maturingMinutes('10081').error).toMatch(/at most 10080/);
    expect(maturingMinutes('ten').error).toMatch(/whole number/);
  });
});
