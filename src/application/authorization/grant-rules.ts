import type { Permission } from './permissions.js';

/**
 * Returns the permissions in `granted` that the caller does not hold. A caller may grant a
 * role or key scope only when this is empty: nobody hands out rights they lack themselves.
 */
export function permissionsBeyond(
  held: ReadonlySet<Permission>,
  granted: Iterable<Permission>,
): Permission[] {
  return [...new Set(granted)].filter((permission) => !held.has(permission));
}

/** Whether a caller holding `held` may grant a role or scope carrying `granted`. */
export function canGrant(held: ReadonlySet<Permission>, granted: Iterable<Permission>): boolean {
  return permissionsBeyond(held, granted).length === 0;
}
