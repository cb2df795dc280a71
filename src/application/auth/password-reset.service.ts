import { AppError } from '../../http/errors.js';
import type { RequestContext } from '../../http/request-context.js';
import { buildAuditRecord } from '../../monitoring/audit/audit-entry.js';
import { appendAuditRecords } from '../../monitoring/audit/audit.repository.js';
import { hashPassword } from '../../tenancy/users/password.js';
import {
  findUserCredentialsByEmail,
  findUserCredentialsById,
  loadKeysOfUsers,
  loadUserFieldKeys,
  UnreadableUserError,
  updatePasswordHash,
  type UserCredentials,
} from '../../tenancy/users/user.repository.js';
import type { MailOutbox } from '../mail/mail-outbox.js';
import { tokenInstructions } from '../mail/mail-links.js';
import type { IdentityServices } from './identity.js';
import { accountThrottleKey } from './login-throttle.js';
import { generateResetToken, hashResetToken } from './mailed-token.js';
import {
  countResetTokensSince,
  insertResetToken,
  lockOpenResetToken,
  useResetTokensOfUser,
} from './password-reset.repository.js';
import { revokeUserSessions } from './session.repository.js';
import { userActor } from './session.service.js';

/** How long a reset token works. */
export const RESET_TOKEN_TTL_MS = 30 * 60 * 1000;

/** Reset mails one account gets per token lifetime; further requests send nothing. */
export const MAX_RESET_MAILS_PER_TTL = 3;

/** Why a reset request sent no mail; recorded in the audit entry, never returned. */
type SkipReason = 'unknown_email' | 'user_unreadable' | 'user_disabled' | 'too_many_requests';

/**
 * Starts a password reset. The caller gets the same response whether or not the email belongs
 * to an account, and the work is nearly the same: a token is generated either way, one audit
 * entry is written either way, and the mail is sent in the background. Only a known, active
 * account adds the insert of the token row and a count query, well under a millisecond.
 */
export async function requestPasswordReset(
  identity: IdentityServices,
  outbox: MailOutbox,
  context: RequestContext,
  email: string,
): Promise<void> {
  const { db } = identity;
  const generated = generateResetToken();
  let user: UserCredentials | null = null;
  let unreadable = false;
  try {
    user = await findUserCredentialsByEmail(db, email);
  } catch (error) {
    // The account's stored fields do not decrypt (altered, or erased), so no mail can be sent.
    if (!(error instanceof UnreadableUserError)) throw error;
    unreadable = true;
  }
  const now = identity.clock();

  let skip: SkipReason | null = null;
  if (unreadable) skip = 'user_unreadable';
  else if (!user) skip = 'unknown_email';
  else if (user.status !== 'active') skip = 'user_disabled';
  else {
    const recent = await countResetTokensSince(db, user.id, new Date(now - RESET_TOKEN_TTL_MS));
    if (recent >= MAX_RESET_MAILS_PER_TTL) skip = 'too_many_requests';
  }

  if (!user || skip !== null) {
    await appendAuditRecords(db, [
      buildAuditRecord(user ? userActor(user, null) : { type: 'system', id: null }, context, {
        action: 'user.password_reset_requested',
        resourceType: 'user',
        resourceId: user?.id ?? null,
        metadata: { mailSent: false, reason: skip },
        sensitivity: 'sensitive',
        complianceRelevant: true,
      }),
    ]);
    return;
  }

  const expiresAt = new Date(now + RESET_TOKEN_TTL_MS);
  const tokenId = await db.transaction(async (tx) => {
    const id = await insertResetToken(tx, { hash: generated.hash, userId: user.id, expiresAt });
    await appendAuditRecords(tx, [
      buildAuditRecord(userActor(user, null), context, {
        action: 'user.password_reset_requested',
        resourceType: 'user',
        resourceId: user.id,
        metadata: { mailSent: true, resetTokenId: id, expiresAt: expiresAt.toISOString() },
        sensitivity: 'sensitive',
        complianceRelevant: true,
      }),
    ]);
    return id;
  });

  outbox.enqueue(
    {
      to: user.email,
      subject: 'Reset your MindWeave password',
      text: [
        'Someone asked to reset the password of your MindWeave account.',
        'If it was you, set a new password within 30 minutes:',
        '',
        tokenInstructions(
          identity.mail.linkBaseUrl,
          'reset-password',
          generated.token,
          'POST /api/v1/auth/password/reset/confirm { "token", "newPassword" }',
        ),
        '',
        'The token works once. If you did not ask for this, ignore this mail:',
        'your password stays as it is.',
      ].join('\n'),
      purpose: 'password_reset',
      referenceId: tokenId,
    },
    context.requestId,
  );
}

/** Returns null for an account whose stored fields do not decrypt, so its token is invalid. */
async function findCredentialsOrNull(
  tx: Parameters<typeof findUserCredentialsById>[0],
  userId: string,
): Promise<UserCredentials | null> {
  try {
    return await findUserCredentialsById(tx, userId);
  } catch (error) {
    if (error instanceof UnreadableUserError) return null;
    throw error;
  }
}

function invalidToken(): AppError {
  return new AppError('validation_failed', 'Validation error', [
    { field: 'token', message: 'Reset token is invalid, expired or already used' },
  ]);
}

/**
 * Completes a password reset: the token must be unused and unexpired. Sets the new password
 * (the caller has checked it against the policy and the breached list), uses up every open
 * token of the user, revokes all the user's sessions and clears the account's sign-in lockout.
 */
export async function completePasswordReset(
  identity: IdentityServices,
  context: RequestContext,
  input: { token: string; newPassword: string },
): Promise<void> {
  const { db } = identity;
  const hash = hashResetToken(input.token);
  if (!hash) throw invalidToken();
  const passwordHash = await hashPassword(input.newPassword);

  // The transaction decrypts the user's fields, so their keys are loaded before it opens: the
  // token is read once outside it to learn whose keys these are.
  await loadUserFieldKeys();
  const peeked = await lockOpenResetToken(db, hash);
  if (!peeked) throw invalidToken();
  await loadKeysOfUsers(db, [peeked.userId]);
  const user = await db.transaction(async (tx) => {
    const token = await lockOpenResetToken(tx, hash);
    if (!token) throw invalidToken();
    const credentials = await findCredentialsOrNull(tx, token.userId);
    if (!credentials || credentials.status !== 'active') throw invalidToken();

    await useResetTokensOfUser(tx, credentials.id);
    await updatePasswordHash(tx, credentials.id, passwordHash);
    const revoked = await revokeUserSessions(tx, credentials.id);
    await appendAuditRecords(tx, [
      buildAuditRecord(userActor(credentials, null), context, {
        action: 'user.password_reset',
        resourceType: 'user',
        resourceId: credentials.id,
        metadata: { resetTokenId: token.id, sessionsRevoked: revoked },
        sensitivity: 'sensitive',
        complianceRelevant: true,
      }),
    ]);
    return credentials;
  });
  await identity.throttle.reset('account', accountThrottleKey(user.email));
}
