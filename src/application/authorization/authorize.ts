import type { AccessPrincipal, AccessResource } from './access.js';
import { effectivePermissions } from './access.js';
import type { Permission } from './permissions.js';

/**
 * The reason for a denial, which is also the error code the admin API returns. `not_found`
 * (404) means the caller has no standing in the organization, so a foreign organization looks
 * like an unknown one. `organization_disabled` and `forbidden` are 403.
 */
export type DenyReason = 'not_found' | 'organization_disabled' | 'forbidden';

/** The outcome of an authorization check. */
export type Decision = { allow: true } | { allow: false; reason: DenyReason; message: string };

const ALLOW: Decision = { allow: true };

function deny(reason: DenyReason, message: string): Decision {
  return { allow: false, reason, message };
}

function belongsToOrganization(principal: AccessPrincipal, resource: AccessResource): boolean {
  if (principal.type === 'user') return principal.roles.orgRole !== null;
  return principal.orgId === resource.orgId;
}

/**
 * Decides whether `principal` may use `permission` on `resource`. This is the only place that
 * makes the decision, and it denies unless every check passes:
 * 1. the principal belongs to the resource's organization (a member, or one of its keys);
 * 2. the organization is active, except that a signed-in user may use `organization.disable`
 *    on a disabled organization, which is how it is enabled again;
 * 3. the principal's effective permissions on the resource include `permission`.
 */
export function authorize(
  principal: AccessPrincipal,
  permission: Permission,
  resource: AccessResource,
): Decision {
  if (!belongsToOrganization(principal, resource)) return deny('not_found', 'Not found');

  const reenabling = principal.type === 'user' && permission === 'organization.disable';
  if (resource.orgStatus !== 'active' && !reenabling) {
    return deny('organization_disabled', 'This organization is disabled');
  }

  if (!effectivePermissions(principal, resource).has(permission)) {
    const holder = principal.type === 'user' ? 'Your role does' : 'This API key does';
    return deny('forbidden', `${holder} not grant ${permission}`);
  }
  return ALLOW;
}
