import type { ApiKeyGrant } from '../../tenancy/api-keys/api-key.repository.js';

/**
 * The models a project may call. Deny by default: a project without an `allowedModels` list,
 * or with an empty one, may call no model.
 */
export function allowedModels(grant: Pick<ApiKeyGrant, 'settings'>): readonly string[] {
  const list = grant.settings.allowedModels;
  return Array.isArray(list) ? list : [];
}

/** Whether the project may call `model`; the comparison is exact. */
export function isModelAllowed(grant: Pick<ApiKeyGrant, 'settings'>, model: string): boolean {
  return allowedModels(grant).includes(model);
}
