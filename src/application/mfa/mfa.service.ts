import { randomBytes } from 'node:crypto';

import { KeyStateError } from '../../data/crypto/errors.js';
import { AppError } from '../../http/errors.js';
import type { RequestContext } from '../../http/request-context.js';
import { buildAuditRecord } from '../../monitoring/audit/audit-entry.js';
import { appendAuditRecords } from '../../monitoring/audit/audit.repository.js';
import { loginFailedEvent } from '../../monitoring/security-events/identity-events.js';
import { findUserCredentialsById, type User } from '../../tenancy/users/user.repository.js';
import { verifyCurrentPassword } from '../auth/current-password.js';
import type { IdentityServices } from '../auth/identity.js';
import {
  assertNotLocked,
  recordLoginFailure,
  throttleKeys,
  withAccountClaim,
  type ThrottleKeys,
} from '../auth/login.service.js';
import { revokeSession } from '../auth/session.repository.js';
import { userActor, type OpenedSession, type SessionPrincipal } from '../auth/session.service.js';
import { hashChallengeToken } from '../auth/session-token.js';
import {
  claimTotpStep,
  confirmTotpFactor,
  consumeMfaChallenge,
  countMfaChallengeAttempt,
  countUnusedRecoveryCodes,
  deleteMfaFactors,
  findMfaStatus,
  findOpenMfaChallenge,
  findTotpFactor,
  replaceRecoveryCodes,
  upsertPendingTotpFactor,
  useRecoveryCode,
} from './mfa.repository.js';
import {
  generateRecoveryCode,
  hashRecoveryCode,
  normalizeRecoveryCode,
  RECOVERY_CODE_COUNT,
} from './recovery-codes.js';
import { base32Encode, DEFAULT_TOTP, matchTotpStep, otpauthUri } from './totp.js';
import { renderTotpQrCode } from './totp-qr-code.js';

/** The issuer name authenticator apps show next to the account. */
export const TOTP_ISSUER = 'MindWeave';

/** RFC 4226 recommends at least 128 bits of secret and 160 bits; this uses 160. */
const TOTP_SECRET_BYTES = 20;

/** Wrong codes one MFA challenge accepts before it is void and the password is needed again. */
export const MAX_CHALLENGE_ATTEMPTS = 5;

/**
 * A started TOTP enrollment: the secret to put in an authenticator app, as text, as an
 * `otpauth://` URI, and as a QR code of that URI (SVG and PNG `data:` URL).
 */
export interface TotpEnrollment {
  secret: string;
  otpauthUri: string;
  qrCodeSvg: string;
  qrCodePngDataUrl: string;
  algorithm: 'SHA1';
  digits: number;
  period: number;
}

/** Starts (or restarts) TOTP enrollment; the factor works only once a code confirms it. */
export async function beginTotpEnrollment(
  identity: IdentityServices,
  principal: SessionPrincipal,
): Promise<TotpEnrollment> {
  const secret = randomBytes(TOTP_SECRET_BYTES);
  const sealed = await sealTotpSecret(identity, principal.user.id, secret);
  const stored = await upsertPendingTotpFactor(identity.db, principal.user.id, sealed);
  if (!stored) {
    throw new AppError(
      'conflict',
      'A TOTP factor is already enrolled; remove it with DELETE /api/v1/auth/mfa/totp first',
    );
  }
  const uri = otpauthUri(secret, TOTP_ISSUER, principal.user.email);
  const qrCode = await renderTotpQrCode(uri);
  return {
    secret: base32Encode(secret),
    otpauthUri: uri,
    qrCodeSvg: qrCode.svg,
    qrCodePngDataUrl: qrCode.pngDataUrl,
    algorithm: 'SHA1',
    digits: DEFAULT_TOTP.digits,
    period: DEFAULT_TOTP.stepSeconds,
  };
}

/**
 * Seals a new TOTP secret under the user's data key.
 *
 * @throws AppError `conflict` when the key is scheduled for deletion or destroyed, which
 * happens once the user's erasure is scheduled, so no new personal data is written for the user.
 */
async function sealTotpSecret(
  identity: IdentityServices,
  userId: string,
  secret: Buffer,
): Promise<string> {
  try {
    return await identity.totpSealer.seal(userId, secret);
  } catch (error) {
    if (!(error instanceof KeyStateError)) throw error;
    throw new AppError(
      'conflict',
      'This account is being erased, so its data can no longer change; ask an administrator ' +
        'to cancel the erasure first',
    );
  }
}

/**
 * Opens a stored TOTP secret, or returns null when it does not open: the value was altered or
 * moved from another row, or the user's key is gone. The caller fails closed. Opening can read
 * the key store on a key-cache miss, so it must run before any transaction, because on
 * embedded PostgreSQL a key store query waits for an open transaction forever.
 */
async function openTotpSecret(
  identity: IdentityServices,
  context: RequestContext,
  userId: string,
  sealed: string,
): Promise<Buffer | null> {
  try {
    return await identity.totpSealer.open(userId, sealed);
  } catch {
    // The error is not kept: its message may quote the stored value. The event names the user id.
    identity.securityEvents?.record(loginFailedEvent(context, userId, TOTP_UNREADABLE));
    return null;
  }
}

/** Audit and security event reason of a stored TOTP secret that does not open. */
const TOTP_UNREADABLE = 'totp_secret_unreadable';

function wrongCode(field: string): AppError {
  return new AppError('validation_failed', 'Validation error', [
    { field, message: 'Code is wrong, expired or already used' },
  ]);
}

/**
 * Confirms a pending TOTP factor with a first code, issues the recovery codes, and replaces
 * the session with a new one, because the user's privileges change with the second factor.
 */
export async function confirmTotpEnrollment(
  identity: IdentityServices,
  context: RequestContext,
  principal: SessionPrincipal,
  code: string,
): Promise<{ recoveryCodes: string[]; opened: OpenedSession }> {
  const { user, session } = principal;
  const factor = await findTotpFactor(identity.db, user.id);
  if (!factor || factor.confirmedAt) {
    throw new AppError(
      'conflict',
      'No TOTP enrollment is pending; start one with POST /api/v1/auth/mfa/totp',
    );
  }
  const secret = await openTotpSecret(identity, context, user.id, factor.secretSealed);
  if (!secret) {
    throw new AppError(
      'conflict',
      'The pending TOTP enrollment cannot be read; start a new one with POST /api/v1/auth/mfa/totp',
    );
  }
  const step = matchTotpStep(secret, code, identity.clock() / 1000);
  if (step === null) throw wrongCode('code');

  const recoveryCodes = Array.from({ length: RECOVERY_CODE_COUNT }, generateRecoveryCode);
  const prepared = await identity.sessions.prepare(context);
  const opened = await identity.db.transaction(async (tx) => {
    if (!(await claimTotpStep(tx, user.id, step))) throw wrongCode('code');
    if (!(await confirmTotpFactor(tx, user.id))) {
      throw new AppError('conflict', 'The TOTP factor was confirmed by another request');
    }
    await replaceRecoveryCodes(
      tx,
      user.id,
      recoveryCodes.map((recoveryCode) =>
        hashRecoveryCode(normalizeRecoveryCode(recoveryCode) as string),
      ),
    );
    await revokeSession(tx, session.id);
    const next = await identity.sessions.open(tx, user, context, {
      sessionType: session.sessionType,
      mfaMethod: 'totp',
      auditLogin: false,
      prepared,
    });
    await appendAuditRecords(tx, [
      buildAuditRecord(userActor(user, session.id), context, {
        action: 'user.mfa_enrolled',
        resourceType: 'user',
        resourceId: user.id,
        metadata: {
          method: 'totp',
          recoveryCodes: RECOVERY_CODE_COUNT,
          replacedSessionId: session.id,
          newSessionId: next.session.id,
        },
        sensitivity: 'sensitive',
        complianceRelevant: true,
      }),
    ]);
    return next;
  });
  return { recoveryCodes, opened };
}

/** Removes the user's second factor and recovery codes after checking the current password. */
export async function removeTotp(
  identity: IdentityServices,
  context: RequestContext,
  principal: SessionPrincipal,
  currentPassword: string,
): Promise<void> {
  await verifyCurrentPassword(identity, context, principal, currentPassword);
  await identity.db.transaction(async (tx) => {
    if (!(await deleteMfaFactors(tx, principal.user.id))) {
      throw new AppError('not_found', 'No second factor is enrolled');
    }
    await appendAuditRecords(tx, [
      buildAuditRecord(userActor(principal.user, principal.session.id), context, {
        action: 'user.mfa_removed',
        resourceType: 'user',
        resourceId: principal.user.id,
        metadata: { method: 'totp' },
        sensitivity: 'sensitive',
        complianceRelevant: true,
      }),
    ]);
  });
}

/** Reads the user's MFA state: enrolled, required, pending, and recovery codes left. */
export async function mfaOverview(identity: IdentityServices, userId: string) {
  const status = await findMfaStatus(identity.db, userId);
  const factor = await findTotpFactor(identity.db, userId);
  return {
    enrolled: status.enrolled,
    required: status.required,
    pendingEnrollment: factor !== null && factor.confirmedAt === null,
    recoveryCodesRemaining: status.enrolled
      ? await countUnusedRecoveryCodes(identity.db, userId)
      : 0,
  };
}

function invalidChallenge(): AppError {
  return new AppError('unauthorized', 'Invalid or expired MFA challenge or code');
}

/**
 * Completes an MFA sign-in with a TOTP code or a recovery code and opens the session. A TOTP
 * code is accepted once, and so is any code of a time step already used. Each wrong code is
 * audited, counts towards the account and address lockout, and uses up one of the challenge's
 * attempts.
 */
export async function completeMfaChallenge(
  identity: IdentityServices,
  context: RequestContext,
  input: { challengeToken: string; code: string },
): Promise<{ opened: OpenedSession; user: User; mfaEnrollmentRequired: boolean }> {
  const { db } = identity;
  const hash = hashChallengeToken(input.challengeToken);
  const challenge = hash ? await findOpenMfaChallenge(db, hash, MAX_CHALLENGE_ATTEMPTS) : null;
  if (!challenge) throw invalidChallenge();
  const credentials = await findUserCredentialsById(db, challenge.userId);
  if (!credentials || credentials.status !== 'active') throw invalidChallenge();
  const { passwordHash: _omitted, ...user } = credentials;

  const keys = throttleKeys(user.email, context);
  const audit = (reason: string, method: string) =>
    appendAuditRecords(db, [
      buildAuditRecord(userActor(user, null), context, {
        action: 'user.mfa_challenge_failed',
        resourceType: 'user',
        resourceId: user.id,
        metadata: { reason, method },
        sensitivity: 'sensitive',
        complianceRelevant: true,
      }),
    ]);
  return withAccountClaim(
    identity,
    keys.account,
    () => audit('concurrent_attempt', 'unknown'),
    () => checkSecondFactor(identity, context, input, user, keys),
  );
}

/**
 * The second step of an MFA sign-in once it holds the account's attempt claim. The challenge
 * is read again under the claim, so that its attempt count includes every earlier attempt.
 */
async function checkSecondFactor(
  identity: IdentityServices,
  context: RequestContext,
  input: { challengeToken: string; code: string },
  user: User,
  keys: ThrottleKeys,
): Promise<{ opened: OpenedSession; user: User; mfaEnrollmentRequired: boolean }> {
  const { db } = identity;
  const hash = hashChallengeToken(input.challengeToken);
  const challenge = hash ? await findOpenMfaChallenge(db, hash, MAX_CHALLENGE_ATTEMPTS) : null;
  if (!challenge || challenge.userId !== user.id) throw invalidChallenge();
  await assertNotLocked(identity, keys);

  const isTotp = /^\d{6}$/.test(input.code);
  const method = isTotp ? ('totp' as const) : ('recovery_code' as const);
  const factor = await findTotpFactor(db, user.id);
  if (!factor?.confirmedAt) throw invalidChallenge();

  const secret = isTotp
    ? await openTotpSecret(identity, context, user.id, factor.secretSealed)
    : null;
  const prepared = await identity.sessions.prepare(context);
  const result = await db.transaction(async (tx) => {
    let reason: string | null = null;
    if (isTotp) {
      const step = secret ? matchTotpStep(secret, input.code, identity.clock() / 1000) : null;
      if (!secret) reason = TOTP_UNREADABLE;
      else if (step === null) reason = 'wrong_code';
      else if (!(await claimTotpStep(tx, user.id, step))) reason = 'code_reused';
    } else {
      const normalized = normalizeRecoveryCode(input.code);
      const used = normalized && (await useRecoveryCode(tx, user.id, hashRecoveryCode(normalized)));
      if (!used) reason = 'wrong_recovery_code';
    }
    if (reason !== null) return { ok: false as const, reason };

    if (!(await consumeMfaChallenge(tx, challenge.id)))
      return { ok: false as const, reason: 'challenge_used' };
    const opened = await identity.sessions.open(tx, user, context, {
      sessionType: challenge.sessionType,
      mfaMethod: method,
      prepared,
    });
    if (method === 'recovery_code') {
      await appendAuditRecords(tx, [
        buildAuditRecord(userActor(user, opened.session.id), context, {
          action: 'user.recovery_code_used',
          resourceType: 'user',
          resourceId: user.id,
          metadata: { remaining: await countUnusedRecoveryCodes(tx, user.id) },
          sensitivity: 'sensitive',
          complianceRelevant: true,
        }),
      ]);
    }
    return { ok: true as const, opened };
  });

  if (!result.ok) {
    await countMfaChallengeAttempt(db, challenge.id);
    const lockouts = await recordLoginFailure(identity, keys, context, user, result.reason);
    await appendAuditRecords(db, [
      buildAuditRecord(userActor(user, null), context, {
        action: 'user.mfa_challenge_failed',
        resourceType: 'user',
        resourceId: user.id,
        metadata: { reason: result.reason, method },
        sensitivity: 'sensitive',
        complianceRelevant: true,
      }),
      ...lockouts,
    ]);
    throw invalidChallenge();
  }

  await identity.throttle.reset('account', keys.account);
  const status = await findMfaStatus(db, user.id);
  return {
    opened: result.opened,
    user,
    mfaEnrollmentRequired: status.required && !status.enrolled,
  };
}
