import type { OrgRole, ProjectRole } from '../../tenancy/users/user.schema.js';

/**
 * Every permission a route can require, named `resource.action`. Permissions whose route is
 * not built yet (incidents, compliance) are listed so the role table is complete.
 */
export const PERMISSIONS = [
  'organization.read',
  'organization.update',
  'organization.disable',
  'organization.transfer',
  'member.read',
  'member.manage',
  'project.read',
  'project.create',
  'project.update',
  'project_member.read',
  'project_member.manage',
  'api_key.read',
  'api_key.create',
  'api_key.revoke',
  'audit.read',
  'security_event.read',
  'provider_key.read',
  'provider_key.update',
  'incident.read',
  'incident.manage',
  'compliance.read',
  'compliance.manage',
  'access.request',
  'access.read',
  'access.approve',
  'access.revoke',
  'access.break_glass',
  'change_request.read',
  'change_request.approve',
  'ip_allowlist.read',
  'ip_allowlist.update',
  'tool_call.read',
  'tool_call.approve',
] as const;

export type Permission = (typeof PERMISSIONS)[number];

/** Permissions that a project role can grant; they apply only inside that project. */
export const PROJECT_PERMISSIONS: readonly Permission[] = [
  'project.read',
  'project.update',
  'project_member.read',
  'project_member.manage',
  'api_key.read',
  'api_key.create',
  'api_key.revoke',
  'tool_call.read',
  'tool_call.approve',
];

const allBut = (...excluded: Permission[]) => PERMISSIONS.filter((p) => !excluded.includes(p));

/**
 * The single table from organization role to the permissions it grants in the whole
 * organization. Only owners hold `organization.transfer`, which grants and removes the owner
 * role, so an admin can never make anyone an owner.
 */
export const ROLE_PERMISSIONS: Readonly<Record<OrgRole, readonly Permission[]>> = {
  owner: PERMISSIONS,
  admin: allBut('organization.transfer', 'access.break_glass'),
  security_admin: [
    'organization.read',
    'member.read',
    'project.read',
    'project_member.read',
    'api_key.read',
    'api_key.revoke',
    'audit.read',
    'security_event.read',
    'provider_key.read',
    'incident.read',
    'incident.manage',
    'compliance.read',
    'access.request',
    'access.read',
    'access.approve',
    'access.revoke',
    'change_request.read',
    'ip_allowlist.read',
    'tool_call.read',
  ],
  auditor: [
    'organization.read',
    'member.read',
    'project.read',
    'project_member.read',
    'api_key.read',
    'audit.read',
    'security_event.read',
    'incident.read',
    'compliance.read',
    'access.request',
    'access.read',
    'change_request.read',
    'ip_allowlist.read',
    'tool_call.read',
  ],
  member: ['organization.read', 'project.read', 'api_key.read', 'access.request'],
  viewer: ['organization.read', 'project.read', 'access.request'],
};

/** The table from project role to the permissions it grants inside its project. */
export const PROJECT_ROLE_PERMISSIONS: Readonly<Record<ProjectRole, readonly Permission[]>> = {
  admin: PROJECT_PERMISSIONS,
  developer: [
    'project.read',
    'project_member.read',
    'api_key.read',
    'api_key.create',
    'tool_call.read',
  ],
  viewer: ['project.read', 'project_member.read', 'api_key.read'],
};

/** Whether `role` grants `permission` in its organization; unknown roles grant nothing. */
export function roleGrants(role: OrgRole, permission: Permission): boolean {
  return ROLE_PERMISSIONS[role]?.includes(permission) ?? false;
}

/** Returns true when `permission` only reads and changes nothing. */
export function isReadPermission(permission: Permission): boolean {
  return permission.endsWith('.read');
}
