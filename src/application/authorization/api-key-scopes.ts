import { isReadPermission, ROLE_PERMISSIONS, type Permission } from './permissions.js';

/**
 * The uses of an API key: `gateway` calls the AI gateway, `admin_read` reads the admin API of
 * the key's organization, and `admin` uses the admin API.
 */
export const API_KEY_SCOPES = ['gateway', 'admin_read', 'admin'] as const;
export type ApiKeyScope = (typeof API_KEY_SCOPES)[number];

/**
 * Permissions no API key carries, whatever its scope and creator. A disabled organization
 * refuses every key, so a key that could disable it could never enable it again. Elevation and
 * approvals need a person: a key that approves would let one person be both requester and
 * approver of a four-eyes change or an access grant.
 */
export const HUMAN_ONLY_PERMISSIONS: readonly Permission[] = [
  'organization.disable',
  'organization.transfer',
  'access.request',
  'access.approve',
  'access.revoke',
  'access.break_glass',
  'change_request.approve',
];

const ADMIN_KEY_PERMISSIONS = ROLE_PERMISSIONS.admin.filter(
  (permission) => !HUMAN_ONLY_PERMISSIONS.includes(permission),
);

/**
 * The admin permissions each scope allows. A key's effective permissions are these,
 * intersected with its creator's current permissions at the time of each request.
 */
export const SCOPE_PERMISSIONS: Readonly<Record<ApiKeyScope, readonly Permission[]>> = {
  gateway: [],
  admin_read: ADMIN_KEY_PERMISSIONS.filter(isReadPermission),
  admin: ADMIN_KEY_PERMISSIONS,
};

/** Returns the admin permissions of `scopes`, before the creator's permissions bound them. */
export function scopePermissions(scopes: readonly ApiKeyScope[]): Set<Permission> {
  return new Set(scopes.flatMap((scope) => SCOPE_PERMISSIONS[scope] ?? []));
}
