import { describe, expect, test } from 'vitest';
import { budgetLabel, credentialLabel, loggedInHere, windowLabel } from './format';

describe('a registry host as the Registries section shows it', () => {
  test('credentials say where they come from', () => {
    expect(credentialLabel({ kind: 'none' })).toBe('None (anonymous)');
    expect(credentialLabel({ kind: 'keyring' })).toBe('Logged in here (OS keyring)');
    expect(credentialLabel({ kind: 'helper', name: 'pass' })).toBe('Credential helper docker-credential-pass');
    expect(credentialLabel({ kind: 'dockerConfig', path: '/home/me/.docker/config.json' })).toBe(
      'Docker configuration (/home/me/.docker/config.json)',
    );
    expect(loggedInHere({ kind: 'keyFiles' })).toBe(true);
    expect(loggedInHere({ kind: 'helper', name: 'pass' })).toBe(false);
  });

  test("Docker Hub's budget reads as what is left in its window", () => {
    const seen = { retryAt: null, seenAt: '2026-12-07T10:00:00Z' };
    expect(budgetLabel({ limit: 100, remaining: 76, windowSeconds: 21600, ...seen })).toBe('76 of 100 left per 6h');
    expect(budgetLabel({ limit: null, remaining: 3, windowSeconds: null, ...seen })).toBe('3 left');
    expect(budgetLabel({ limit: null, remaining: null, windowSeconds: null, ...seen })).toBe('No limit reported');
    expect(budgetLabel(null)).toBe('No limit reported');
    expect(windowLabel(90)).toBe('90s');
    expect(windowLabel(600)).toBe('10 min');
  });
});
