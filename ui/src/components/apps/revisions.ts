/**
 * The two revisions a source's panel shows: the one the running release deployed (read from
 * the template version it deployed) and the one the source was read at last.
 */
import { api } from '../../lib/backend';
import type { Revision } from '../../lib/backend';

/** Both revisions; `null` where there is none (nothing deployed, a version written in Tripline). */
export async function sourceRevisions(
  app: string,
  template: string,
  deployedVersion: number | null | undefined,
): Promise<{ deployed: Revision | null; newest: Revision | null }> {
  const [deployed, newest] = await Promise.all([
    deployedVersion === null || deployedVersion === undefined
      ? Promise.resolve(null)
      : api.getVersion(template, deployedVersion).then((v) => v.revision ?? null),
    api.sourceRevision(app),
  ]);
  return { deployed, newest };
}
