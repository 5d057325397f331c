import { describe, expect, test } from 'vitest';
import type { ResourceId, Revision, Value } from './bindings';
import {
  DECISIONS,
  HTTP_STATUSES,
  capitalise,
  plural,
  decisionInfo,
  decisionLabel,
  dnsLabelProblem,
  formatBytes,
  formatDuration,
  resourceKey,
  resourceLabel,
  revisionLabel,
  revisionName,
  revisionShort,
  sameRevision,
  sentence,
  shortCommit,
  shortDigest,
  shortValue,
  statusClass,
  statusHelp,
  statusText,
  utf8Length,
} from './format';

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;

const web: ResourceId = { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web' };
const webInProd: ResourceId = { ...web, namespace: 'prod' };

describe('resources', () => {
  test.each<[ResourceId, string]>([
    [web, 'Deployment/web'],
    [{ ...web, namespace: null }, 'Deployment/web'],
    [{ ...web, namespace: '' }, 'Deployment/web'],
    [webInProd, 'prod/Deployment/web'],
    [{ apiVersion: 'v1', kind: 'Service', name: 'web' }, 'Service/web'],
  ])('resourceLabel(%o) is %s', (id, label) => {
    expect(resourceLabel(id)).toBe(label);
  });

  test.each<[ResourceId, ResourceId, boolean]>([
    [web, { ...web }, true],
    [web, { ...web, namespace: null }, true],
    [web, webInProd, false],
    [web, { ...web, apiVersion: 'apps/v1beta2' }, false],
    [web, { ...web, kind: 'StatefulSet' }, false],
    [web, { ...web, name: 'api' }, false],
    // The separator keeps a namespace and a name apart however their letters split.
    [{ ...web, namespace: 'ab', name: 'c' }, { ...web, namespace: 'a', name: 'bc' }, false],
  ])('resourceKey(%o) equals resourceKey(%o): %s', (a, b, same) => {
    expect(resourceKey(a) === resourceKey(b)).toBe(same);
  });

  test.each<[Value | null | undefined, number | undefined, string]>([
    [undefined, undefined, ''],
    [null, undefined, 'null'],
    ['nginx:1.27', undefined, 'nginx:1.27'],
    [3, undefined, '3'],
    [false, undefined, 'false'],
    [{ cpu: '100m' }, undefined, '{"cpu":"100m"}'],
    [['a', 'b'], undefined, '["a","b"]'],
    ['x'.repeat(120), undefined, 'x'.repeat(120)],
    ['x'.repeat(121), undefined, `${'x'.repeat(119)}…`],
    ['abcdef', 4, 'abc…'],
    [{ k: 'abcdef' }, 8, '{"k":"a…'],
  ])('shortValue(%o, %s) is %s', (value, max, text) => {
    expect(shortValue(value, max)).toBe(text);
    expect(shortValue(value, max).length).toBeLessThanOrEqual(max ?? 120);
  });
});

describe('sentences', () => {
  test.each([
    ['', ''],
    ['a', 'A'],
    ['template not found', 'Template not found'],
    ['Already a capital', 'Already a capital'],
    ['élan', 'Élan'],
    ['42 objects', '42 objects'],
  ])('capitalise(%j) is %j', (text, capitalised) => {
    expect(capitalise(text)).toBe(capitalised);
  });

  test.each([
    ['', ''],
    ['   ', ''],
    ['the cluster refused it', 'The cluster refused it.'],
    ['  the cluster refused it  ', 'The cluster refused it.'],
    ['Done.', 'Done.'],
    ['really?', 'Really?'],
    ['stop!', 'Stop!'],
    ['and so on…', 'And so on…'],
    ['unknown field imagePullPolcy (did you mean imagePullPolicy?)', 'Unknown field imagePullPolcy (did you mean imagePullPolicy?)'],
    ['it says “stop.”', 'It says “stop.”'],
    ['it failed (see line 3)', 'It failed (see line 3).'],
    ['version 1.2', 'Version 1.2.'],
  ])('sentence(%j) is %j', (message, text) => {
    expect(sentence(message)).toBe(text);
  });

  test.each<[number, string, string | undefined, string]>([
    [0, 'object', undefined, '0 objects'],
    [1, 'object', undefined, '1 object'],
    [2, 'object', undefined, '2 objects'],
    [1, 'replica', undefined, '1 replica'],
    [7, 'release is', 'releases are', '7 releases are'],
    [1, 'release is', 'releases are', '1 release is'],
  ])('plural(%d, %j, %j) is %j', (n, singular, many, text) => {
    expect(plural(n, singular, many)).toBe(text);
  });

  test('plural groups digits as the locale does', () => {
    expect(plural(1204, 'record')).toBe(`${new Intl.NumberFormat().format(1204)} records`);
  });
});

describe('names', () => {
  test.each<[string, string | undefined, string | undefined]>([
    ['web', undefined, undefined],
    ['web-2', undefined, undefined],
    ['a', undefined, undefined],
    ['0', undefined, undefined],
    ['a'.repeat(63), undefined, undefined],
    ['', undefined, 'Enter a name.'],
    ['', 'namespace', 'Enter a namespace.'],
    ['a'.repeat(64), undefined, 'Use at most 63 characters (this name has 64).'],
    ['Web', undefined, 'Use lower-case letters, digits and “-”, starting and ending with a letter or digit (like web-2).'],
    ['-web', undefined, 'Use lower-case letters, digits and “-”, starting and ending with a letter or digit (like web-2).'],
    ['web-', undefined, 'Use lower-case letters, digits and “-”, starting and ending with a letter or digit (like web-2).'],
    ['web.api', undefined, 'Use lower-case letters, digits and “-”, starting and ending with a letter or digit (like web-2).'],
    ['web_api', 'namespace', 'Use lower-case letters, digits and “-”, starting and ending with a letter or digit (like web-2).'],
  ])('dnsLabelProblem(%j, %j) is %j', (value, what, problem) => {
    expect(dnsLabelProblem(value, what)).toBe(problem);
  });
});

describe('sizes', () => {
  test.each([
    [0, '0 B'],
    [1, '1 B'],
    [1023, '1023 B'],
    [1024, '1.0 KiB'],
    [1536, '1.5 KiB'],
    [10 * KiB - 1, '10 KiB'],
    [10 * KiB, '10 KiB'],
    [64 * KiB, '64 KiB'],
    [1023 * KiB, '1023 KiB'],
    [MiB - 1, '1.0 MiB'],
    [MiB, '1.0 MiB'],
    [3 * MiB, '3.0 MiB'],
    [10 * MiB, '10 MiB'],
    [1.5 * GiB, '1.5 GiB'],
    [2048 * GiB, '2.0 TiB'],
    [5000 * 1024 * GiB, '5000 TiB'],
    [-5, '0 B'],
    [Number.NaN, '0 B'],
  ])('formatBytes(%d) is %s', (bytes, text) => {
    expect(formatBytes(bytes)).toBe(text);
  });

  test.each([
    ['', 0],
    ['abc', 3],
    ['é', 2],
    ['€', 3],
    ['🚀', 4],
  ])('utf8Length(%j) is %d', (text, bytes) => {
    expect(utf8Length(text)).toBe(bytes);
  });
});

describe('durations', () => {
  test.each([
    [-20, '0 ms'],
    [0, '0 ms'],
    [850, '850 ms'],
    [999.4, '999 ms'],
    [1000, '1 s'],
    [12_400, '12 s'],
    [59_400, '59 s'],
    [60_000, '1 min'],
    [184_000, '3 min 4 s'],
    [3_600_000, '1 h'],
    [3_720_000, '1 h 2 min'],
    [26 * 3_600_000, '26 h'],
  ])('formatDuration(%d) is %s', (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });
});

describe('HTTP statuses', () => {
  test.each<[number, string, ReturnType<typeof statusClass>]>([
    [200, 'OK', 'noop'],
    [202, 'Accepted', 'accepted'],
    [400, 'Bad request', 'rejected'],
    [401, 'Unauthorized', 'rejected'],
    [404, 'Not found', 'rejected'],
    [408, 'Timeout', 'rejected'],
    [409, 'Conflict', 'rejected'],
    [413, 'Too large', 'rejected'],
    [415, 'Wrong type', 'rejected'],
    [422, 'Refused', 'rejected'],
    [429, 'Throttled', 'rejected'],
    [500, 'Server error', 'error'],
    [503, 'Unavailable', 'error'],
    [204, '', 'noop'],
    [418, '', 'rejected'],
    [599, '', 'error'],
  ])('%d: %j, %s', (status, text, cls) => {
    expect(statusText(status)).toBe(text);
    expect(statusClass(status)).toBe(cls);
  });

  test('every status the README documents for the listener has words', () => {
    for (const status of [200, 202, 400, 401, 404, 409, 413, 415, 422, 429, 503]) {
      expect(HTTP_STATUSES[status], String(status)).toBeDefined();
    }
  });

  test.each(Object.entries(HTTP_STATUSES))('the help for %s is a sentence', (status, info) => {
    expect(statusHelp(Number(status))).toBe(info.help);
    expect(sentence(info.help)).toBe(info.help);
  });

  test.each([
    [204, 'Answered.'],
    [418, 'The call was refused; nothing changed.'],
    [599, 'Tripline failed to answer the call.'],
  ])('a status without words of its own, %d, is explained by its class', (status, help) => {
    expect(statusHelp(status)).toBe(help);
  });
});

describe('decisions', () => {
  test.each([
    ['triggered', 'Triggered'],
    ['untriggered', 'Untriggered'],
    ['no-op', 'No change'],
    ['rejected', 'Rejected'],
    ['deferred', 'deferred'],
  ])('decisionLabel(%j) is %j', (decision, label) => {
    expect(decisionLabel(decision)).toBe(label);
    expect(decisionInfo(decision).value).toBe(decision);
  });

  test('the filter lists each decision once, each with a help and a short text', () => {
    expect(DECISIONS.map((d) => d.value)).toEqual(['triggered', 'untriggered', 'no-op', 'rejected']);
    for (const d of DECISIONS) {
      expect(d.help, d.value).not.toBe('');
      expect(d.short, d.value).not.toBe('');
    }
  });
});

describe('source revisions', () => {
  const commit = '3f9f05b1c2d4e5f60718293a4b5c6d7e8f901234';
  const git: Revision = { type: 'git', commit, reference: 'main' };
  const helm: Revision = { type: 'helm', chart: 'web', version: '1.4.2', digest: 'sha256:abcdef0123456789abcdef' };

  test.each([
    [commit, '3f9f05b1c2d4'],
    ['abc', 'abc'],
    ['', ''],
  ])('shortCommit(%j) is %j', (full, short) => {
    expect(shortCommit(full)).toBe(short);
  });

  test('a digest loses its algorithm and keeps 12 hex digits', () => {
    expect(shortDigest('sha256:abcdef0123456789')).toBe('abcdef012345');
    expect(shortDigest('abcdef')).toBe('abcdef');
  });

  test('revisions read as the engine words them', () => {
    expect(revisionLabel(git)).toBe('commit 3f9f05b1c2d4 of main');
    expect(revisionName(git)).toBe('commit 3f9f05b1c2d4');
    expect(revisionLabel(helm)).toBe('chart web 1.4.2');
    expect(revisionName(helm)).toBe('chart web 1.4.2');
    expect(revisionShort(git)).toBe('3f9f05b1c2d4');
    expect(revisionShort(helm)).toBe('1.4.2');
  });

  test.each([
    [git, { ...git, reference: 'v1' }, true],
    [git, { ...git, commit: 'ffff' }, false],
    [helm, { ...helm }, true],
    [helm, { ...helm, digest: 'sha256:0' }, false],
    [git, helm, false],
    [git, null, false],
    [undefined, git, false],
  ] as [Revision | null | undefined, Revision | null | undefined, boolean][])('sameRevision %#', (a, b, same) => {
    expect(sameRevision(a, b)).toBe(same);
  });
});
