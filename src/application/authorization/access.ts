import type { OrgRole, ProjectRole } from '../../tenancy/users/user.schema.js';
import { scopePermissions, type ApiKeyScope } from './api-key-scopes.js';
import { PROJECT_ROLE_PERMISSIONS, ROLE_PERMISSIONS, type Permission } from './permissions.js';

/** A user's roles relative to one resource: the org role and, in a project, the project role. */
export interface RoleGrant {
  orgRole: OrgRole | null;
  projectRole: ProjectRole | null;
}

/**
 * Who acts, with the roles that apply to the resource at hand:
 * - `user`: a signed-in user and their roles;
 * - `api_key`: an API key of organization `orgId`, with its scopes and the current roles of the
 *   user who created it (null when that user is unknown, as for keys made by the CLI).
 */
export type AccessPrincipal =
  | { type: 'user'; userId: string; roles: RoleGrant }
  | {
      type: 'api_key';
      keyId: string;
      orgId: string;
      scopes: readonly ApiKeyScope[];
      creator: RoleGrant | null;
    };

/** What a request acts on: an organization, or one project inside it. */
export type AccessResource =
  | { type: 'organization'; orgId: string; orgStatus: 'active' | 'disabled' }
  | {
      type: 'project';
      orgId: string;
      orgStatus: 'active' | 'disabled';
      projectId: string;
    };

/**
 * Returns the permissions `roles` grant on `resource`: the org role's everywhere in the
 * organization, plus the project role's project permissions when the resource is that project.
 */
export function rolePermissions(roles: RoleGrant, resource: AccessResource): Set<Permission> {
  const granted = new Set<Permission>(roles.orgRole ? ROLE_PERMISSIONS[roles.orgRole] : []);
  if (resource.type === 'project' && roles.projectRole) {
    for (const permission of PROJECT_ROLE_PERMISSIONS[roles.projectRole]) granted.add(permission);
  }
  return granted;
}

/**
 * Returns what `principal` may do on `resource`. A key gets only what its scopes allow and its
 * creator still holds, so a key never outlives its creator's rights.
 */
export function effectivePermissions(
  principal: AccessPrincipal,
  resource: AccessResource,
): Set<Permission> {
  if (principal.type === 'user') return rolePermissions(principal.roles, resource);
  if (!principal.creator) return new Set();
  const creator = rolePermissions(principal.creator, resource);
  return new Set([...scopePermissions(principal.scopes)].filter((p) => creator.has(p)));
}
