import type { OrgRole } from '../../tenancy/users/user.schema.js';

// Each role's permissions contain those of every role below it, so "higher" is well defined
// and the higher of two roles grants everything either grants.
const ROLE_RANK: Readonly<Record<OrgRole, number>> = {
  viewer: 1,
  member: 2,
  auditor: 3,
  security_admin: 4,
  admin: 5,
  owner: 6,
};

/** Whether `role` is `minimum` or above it. */
export function roleAtLeast(role: OrgRole, minimum: OrgRole): boolean {
  return ROLE_RANK[role] >= ROLE_RANK[minimum];
}

/** Whether `role` is strictly above `other`. */
export function roleAbove(role: OrgRole, other: OrgRole): boolean {
  return ROLE_RANK[role] > ROLE_RANK[other];
}
