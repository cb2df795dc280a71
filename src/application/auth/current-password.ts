import { AppError } from '../../http/errors.js';
import type { RequestContext } from '../../http/request-context.js';
import { buildAuditRecord, type AuditRecord } from '../../monitoring/audit/audit-entry.js';
import { appendAuditRecords } from '../../monitoring/audit/audit.repository.js';
import { loginFailedEvent } from '../../monitoring/security-events/identity-events.js';
import { verifyPassword } from '../../tenancy/users/password.js';
import {
  findUserCredentialsById,
  type UserCredentials,
} from '../../tenancy/users/user.repository.js';
import type { IdentityServices } from './identity.js';
import {
  assertNotLocked,
  LoginLockedError,
  recordLoginFailure,
  throttleKeys,
  withAccountClaim,
} from './login.service.js';
import { userActor } from './session.service.js';

function wrongPassword(): AppError {
  return new AppError('validation_failed', 'Validation error', [
    { field: 'currentPassword', message: 'Current password is wrong' },
  ]);
}

function failedRecord(
  context: RequestContext,
  user: { id: string; email: string },
  sessionId: string,
  reason: string,
): AuditRecord {
  return buildAuditRecord(userActor(user, sessionId), context, {
    action: 'user.login_failed',
    resourceType: 'user',
    resourceId: user.id,
    metadata: { reason, check: 'current_password' },
    sensitivity: 'sensitive',
    complianceRelevant: true,
  });
}

/**
 * Checks the signed-in user's current password before a password change or the removal of a
 * second factor, and returns the user's credentials. A wrong password is audited as a failed
 * sign-in and counts towards the account and address lockout, and a locked account is
 * rejected before the check, so a stolen session cannot guess the password without limit.
 */
export async function verifyCurrentPassword(
  identity: IdentityServices,
  context: RequestContext,
  principal: { user: { id: string; email: string }; session: { id: string } },
  password: string,
): Promise<UserCredentials> {
  const { db } = identity;
  const { user, session } = principal;
  const keys = throttleKeys(user.email, context);
  const audit = (reason: string) =>
    appendAuditRecords(db, [failedRecord(context, user, session.id, reason)]);

  return withAccountClaim(
    identity,
    keys.account,
    () => audit('concurrent_attempt'),
    async () => {
      try {
        await assertNotLocked(identity, keys);
      } catch (error) {
        if (error instanceof LoginLockedError) await audit('locked_out');
        throw error;
      }
      const credentials = await findUserCredentialsById(db, user.id);
      const passwordOk = await verifyPassword(credentials?.passwordHash ?? null, password);
      if (credentials && passwordOk) return credentials;

      const reason = 'wrong_current_password';
      identity.securityEvents?.record(loginFailedEvent(context, user.id, reason));
      const lockouts = await recordLoginFailure(identity, keys, context, user, reason);
      await appendAuditRecords(db, [failedRecord(context, user, session.id, reason), ...lockouts]);
      throw wrongPassword();
    },
  );
}
