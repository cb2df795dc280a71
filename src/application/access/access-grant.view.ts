import type { AccessGrant } from './access-grant.repository.js';

/** The current state of a grant, derived from its columns and the database clock. */
export type GrantState =
  'pending' | 'active' | 'expired' | 'revoked' | 'denied' | 'cancelled' | 'lapsed';

function stateOf(grant: AccessGrant): GrantState {
  if (grant.status !== 'approved') return grant.status;
  if (grant.revokedAt) return 'revoked';
  return grant.active ? 'active' : 'expired';
}

const iso = (value: Date | null) => value?.toISOString() ?? null;

export function accessGrantView(grant: AccessGrant) {
  return {
    id: grant.id,
    kind: grant.kind,
    userId: grant.userId,
    role: grant.role,
    reason: grant.reason,
    durationMinutes: grant.durationMinutes,
    state: stateOf(grant),
    decidedBy: grant.decidedBy,
    decidedAt: iso(grant.decidedAt),
    decisionNote: grant.decisionNote,
    expiresAt: iso(grant.expiresAt),
    revokedAt: iso(grant.revokedAt),
    revokedBy: grant.revokedBy,
    createdAt: grant.createdAt.toISOString(),
  };
}
