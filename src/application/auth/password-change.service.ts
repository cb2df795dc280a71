import { AppError } from '../../http/errors.js';
import type { RequestContext } from '../../http/request-context.js';
import { buildAuditRecord } from '../../monitoring/audit/audit-entry.js';
import { appendAuditRecords } from '../../monitoring/audit/audit.repository.js';
import { hashPassword } from '../../tenancy/users/password.js';
import { updatePasswordHash } from '../../tenancy/users/user.repository.js';
import { verifyCurrentPassword } from './current-password.js';
import type { IdentityServices } from './identity.js';
import { useResetTokensOfUser } from './password-reset.repository.js';
import { revokeUserSessions } from './session.repository.js';
import type { SessionPrincipal } from './session.service.js';

/**
 * Replaces the signed-in user's password after checking the current one, revokes the user's
 * other sessions so that a stolen session does not outlive the change, and voids the user's
 * open reset tokens so that a stolen reset mail does not either.
 */
export async function changePassword(
  identity: IdentityServices,
  context: RequestContext,
  principal: SessionPrincipal,
  input: { currentPassword: string; newPassword: string },
): Promise<void> {
  const { db } = identity;
  const user = await verifyCurrentPassword(identity, context, principal, input.currentPassword);
  if (input.currentPassword === input.newPassword) {
    throw new AppError('validation_failed', 'Validation error', [
      { field: 'newPassword', message: 'New password must differ from the current one' },
    ]);
  }

  const passwordHash = await hashPassword(input.newPassword);
  await db.transaction(async (tx) => {
    await updatePasswordHash(tx, user.id, passwordHash);
    const revoked = await revokeUserSessions(tx, user.id, principal.session.id);
    const resetTokensVoided = await useResetTokensOfUser(tx, user.id);
    const actor = {
      type: 'user' as const,
      id: user.id,
      email: user.email,
      sessionId: principal.session.id,
    };
    await appendAuditRecords(tx, [
      buildAuditRecord(actor, context, {
        action: 'user.password_changed',
        resourceType: 'user',
        resourceId: user.id,
        metadata: { otherSessionsRevoked: revoked, resetTokensVoided },
        sensitivity: 'sensitive',
        complianceRelevant: true,
      }),
    ]);
  });
}
