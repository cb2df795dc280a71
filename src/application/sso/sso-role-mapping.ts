import type { OrgRole } from '../../tenancy/users/user.schema.js';
import { ORG_ROLES } from '../../tenancy/users/user.schema.js';
import { ROLE_PERMISSIONS } from '../authorization/permissions.js';

/** One IdP group and the organization role its members get. */
export interface RoleMapping {
  group: string;
  role: OrgRole;
}

/**
 * Whether `role` grants nothing beyond `ceiling`: every permission of `role` is one of
 * `ceiling`'s. The owner role is within only itself, even where an admin has the same
 * permissions, because ownership can be handed on only by an owner.
 */
export function roleWithin(role: OrgRole, ceiling: OrgRole): boolean {
  if (role === ceiling) return true;
  if (role === 'owner') return false;
  const allowed = new Set(ROLE_PERMISSIONS[ceiling]);
  return ROLE_PERMISSIONS[role].every((permission) => allowed.has(permission));
}

/** Orders roles by privilege: `ORG_ROLES` lists them from owner down to viewer. */
function privilege(role: OrgRole): number {
  return ORG_ROLES.length - ORG_ROLES.indexOf(role);
}

/**
 * Returns the role for a user in `groups`: the most privileged role mapped to any of them, or
 * `defaultRole` when no group is mapped (null: the user gets no role and cannot sign in).
 */
export function resolveRole(
  groups: readonly string[],
  mappings: readonly RoleMapping[],
  defaultRole: OrgRole | null,
): OrgRole | null {
  const member = new Set(groups);
  let best: OrgRole | null = null;
  for (const mapping of mappings) {
    if (!member.has(mapping.group)) continue;
    if (best === null || privilege(mapping.role) > privilege(best)) best = mapping.role;
  }
  return best ?? defaultRole;
}
