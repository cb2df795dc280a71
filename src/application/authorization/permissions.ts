import type { OrgRole } from '../../tenancy/users/user.schema.js';

/** Every permission a route can require. */
export const PERMISSIONS = [
  'organization.read',
  'organization.update',
  'project.read',
  'project.create',
  'project.update',
  'api_key.read',
  'api_key.create',
  'api_key.revoke',
  'audit.read',
  'provider_key.read',
  'provider_key.update',
] as const;

export type Permission = (typeof PERMISSIONS)[number];

const READ_ONLY: Permission[] = ['organization.read', 'project.read', 'api_key.read'];

/** The single table from organization role to the permissions it grants. */
export const ROLE_PERMISSIONS: Readonly<Record<OrgRole, readonly Permission[]>> = {
  owner: PERMISSIONS,
  admin: PERMISSIONS,
  security_admin: [...READ_ONLY, 'api_key.revoke', 'audit.read', 'provider_key.read'],
  auditor: [...READ_ONLY, 'audit.read'],
  member: READ_ONLY,
  viewer: ['organization.read', 'project.read'],
};

/** Whether `role` grants `permission`; unknown roles grant nothing. */
export function roleGrants(role: OrgRole, permission: Permission): boolean {
  return ROLE_PERMISSIONS[role]?.includes(permission) ?? false;
}
