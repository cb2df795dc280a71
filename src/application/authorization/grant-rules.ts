import type { Permission } from './permissions.js';

/**
 * Returns the permissions in `granted` that the caller does not hold. A caller may grant a
 * role or key scope only when this is empty, so no caller hands out rights they lack.
 */
export function permissionsBeyond(
  held: ReadonlySet<Permission>,
  granted: Iterable<Permission>,
): Permission[] {
  return [...new Set(granted)].filter((permission) => !held.has(permission));
}

/** Returns true when a caller with the permissions `held` may grant all of `granted`. */
export function canGrant(held: ReadonlySet<Permission>, granted: Iterable<Permission>): boolean {
  return permissionsBeyond(held, granted).length === 0;
}
