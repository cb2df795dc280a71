import type { ApiKeyGrant } from '../../tenancy/api-keys/api-key.repository.js';
import { aliasesOf, resolveModelAlias } from './model-aliases.js';

type PolicyHolder = Pick<ApiKeyGrant, 'settings'>;

/** Returns the snapshots a project may call: its allow-list with every alias resolved. */
function allowedSnapshots(grant: PolicyHolder): Set<string> {
  const list = grant.settings.allowedModels;
  return new Set(Array.isArray(list) ? list.map(resolveModelAlias) : []);
}

/**
 * Returns the model a call is forwarded with, or null when the project may not call it. The requested
 * name is resolved first and the resolved snapshot is checked, so an alias can neither reach a
 * snapshot outside the list nor be repointed by the provider later. Deny by default: a project
 * without an `allowedModels` list, or with an empty one, may call no model.
 */
export function permittedModel(grant: PolicyHolder, requested: string): string | null {
  const snapshot = resolveModelAlias(requested);
  return allowedSnapshots(grant).has(snapshot) ? snapshot : null;
}

/**
 * Lists every model name that a call from this project is accepted with: each allowed snapshot and the
 * aliases that resolve to it. `/v1/models` lists exactly these.
 */
export function acceptedModels(grant: PolicyHolder): string[] {
  const names = new Set<string>();
  for (const snapshot of allowedSnapshots(grant)) {
    names.add(snapshot);
    for (const alias of aliasesOf(snapshot)) names.add(alias);
  }
  return [...names].sort();
}
