import { describe, expect, test } from 'vitest';
import { eventParams, eventSummary } from './format';

describe('what a push-caused release records', () => {
  const push = { format: 'generic', image: 'registry.example/shop:v2', tag: 'v2' };

  test('a Git write-back names its commit and branch', () => {
    const params = eventParams({ ...push, commit: '0123456789abcdef0123456789abcdef01234567', branch: 'tripline/images' });
    expect(params).toContainEqual({ label: 'Commit', value: '0123456789ab' });
    expect(params).toContainEqual({ label: 'Branch', value: 'tripline/images' });
    expect(eventSummary({ ...push, branch: 'tripline/images' })).toBe('tag v2');
  });

  test('a Helm update names its values version; a template update its version', () => {
    expect(eventParams({ ...push, values: 3 })).toContainEqual({ label: 'Values version', value: '3' });
    expect(eventParams({ ...push, version: 7 })).toContainEqual({ label: 'Template version', value: '7' });
  });
});
