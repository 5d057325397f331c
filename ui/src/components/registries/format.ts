/**
 * How the Registries section words a host's credentials and rate-limit budget.
 */
import type { CredentialSource, RegistryBudget } from '../../lib/bindings';

/** Where a host's credentials come from, for a person (never the credentials themselves). */
export function credentialLabel(source: CredentialSource): string {
  switch (source.kind) {
    case 'none':
      return 'None (anonymous)';
    case 'keyring':
      return 'Logged in here (OS keyring)';
    case 'keyFiles':
      return 'Logged in here (owner-only key files)';
    case 'dockerConfig':
      return `Docker configuration (${source.path})`;
    case 'helper':
      return `Credential helper docker-credential-${source.name}`;
  }
}

/** Whether the credentials are Tripline's own, which logging out forgets. */
export function loggedInHere(source: CredentialSource): boolean {
  return source.kind === 'keyring' || source.kind === 'keyFiles';
}

/** `3600` → `1h`, `90` → `90s`. */
export function windowLabel(seconds: number): string {
  if (seconds % 3600 === 0) return `${seconds / 3600}h`;
  if (seconds % 60 === 0) return `${seconds / 60} min`;
  return `${seconds}s`;
}

/** `76 of 100 left per 6h`, or what the registry said of it; `No limit reported` without one. */
export function budgetLabel(budget: RegistryBudget | null): string {
  if (!budget) return 'No limit reported';
  const { limit, remaining, windowSeconds } = budget;
  let text =
    remaining != null && limit != null
      ? `${remaining} of ${limit} left`
      : remaining != null
        ? `${remaining} left`
        : limit != null
          ? `Limit ${limit}`
          : 'No limit reported';
  if (windowSeconds != null && (limit != null || remaining != null)) text += ` per ${windowLabel(windowSeconds)}`;
  return text;
}
