import { permissionsBeyond } from '../../application/authorization/grant-rules.js';
import {
  PROJECT_ROLE_PERMISSIONS,
  ROLE_PERMISSIONS,
  type Permission,
} from '../../application/authorization/permissions.js';
import { AppError } from '../../http/errors.js';
import type { OrgRole, ProjectRole } from '../users/user.schema.js';

type RoleRef = { scope: 'organization'; role: OrgRole } | { scope: 'project'; role: ProjectRole };

function permissionsOfRole(ref: RoleRef): readonly Permission[] {
  return ref.scope === 'organization'
    ? ROLE_PERMISSIONS[ref.role]
    : PROJECT_ROLE_PERMISSIONS[ref.role];
}

/**
 * Throws 403 unless the caller holds every permission of `granted`. Changing or removing an
 * existing role counts as handling that role too, so nobody demotes or removes someone whose
 * rights exceed their own: an admin cannot touch an owner.
 */
export function assertCanHandleRole(held: ReadonlySet<Permission>, ref: RoleRef): void {
  const missing = permissionsBeyond(held, permissionsOfRole(ref));
  if (missing.length === 0) return;
  throw new AppError(
    'forbidden',
    `You cannot grant or change the ${ref.scope} role ${ref.role}: ` +
      `it carries ${missing.join(', ')}, which you do not hold`,
  );
}
