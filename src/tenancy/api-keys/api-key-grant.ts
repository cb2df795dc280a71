import {
  SCOPE_PERMISSIONS,
  type ApiKeyScope,
} from '../../application/authorization/api-key-scopes.js';
import { permissionsBeyond } from '../../application/authorization/grant-rules.js';
import type { Permission } from '../../application/authorization/permissions.js';
import { AppError } from '../../http/errors.js';

/**
 * Who mints a key: the permissions they hold on the key's project and the user the key's admin
 * scopes will be bounded by. `held` is null for the operator's CLI, which has no user, so it
 * may mint only gateway keys.
 */
export interface KeyGrantor {
  held: ReadonlySet<Permission> | null;
  creatorId: string | null;
  /** The admin API key that mints, when a key rather than a person does; null otherwise. */
  mintingKey?: { scopes: readonly ApiKeyScope[]; expiresAt: Date | null } | null;
}

/** The operator's CLI as a grantor: gateway keys only, with no creator. */
export const SYSTEM_GRANTOR: KeyGrantor = { held: null, creatorId: null };

/**
 * Throws 403 unless the grantor holds every permission of every scope, so nobody mints a key
 * with more rights than their own.
 */
export function assertCanMintScopes(grantor: KeyGrantor, scopes: readonly ApiKeyScope[]): void {
  for (const scope of scopes) {
    if (scope === 'gateway') continue;
    if (!grantor.held || !grantor.creatorId) {
      throw new AppError('forbidden', `Only a signed-in user can mint a key with scope ${scope}`);
    }
    const missing = permissionsBeyond(grantor.held, SCOPE_PERMISSIONS[scope]);
    if (missing.length > 0) {
      throw new AppError(
        'forbidden',
        `You cannot mint scope ${scope}: it needs ${missing.join(', ')}, which you do not hold`,
      );
    }
  }
}

/**
 * Throws unless a key minted by an API key stays within that key. It gets no scope the key
 * lacks (an admin-only key mints no gateway key) and an expiry no later than the key's own,
 * so a leaked short-lived key cannot mint itself a lasting successor.
 * NOTE: revoking the minting key does not revoke the keys it minted; they end at its expiry.
 */
export function assertWithinMintingKey(
  grantor: KeyGrantor,
  scopes: readonly ApiKeyScope[],
  expiresAt: Date | null,
): void {
  const parent = grantor.mintingKey;
  if (!parent) return;
  const extra = scopes.filter((scope) => !parent.scopes.includes(scope));
  if (extra.length > 0) {
    throw new AppError(
      'forbidden',
      `An API key can mint only keys with its own scopes; this one lacks ${extra.join(', ')}`,
    );
  }
  if (parent.expiresAt && (!expiresAt || expiresAt.getTime() > parent.expiresAt.getTime())) {
    throw new AppError('validation_failed', undefined, [
      {
        field: 'expiresAt',
        message:
          `A key minted by an API key must expire no later than that key, ` +
          `${parent.expiresAt.toISOString()}`,
      },
    ]);
  }
}
