import type { Database, Queryable } from '../../data/database/database.js';
import { AppError } from '../../http/errors.js';
import type { RequestContext } from '../../http/request-context.js';
import { buildAuditRecord, type AuditRecord } from '../../monitoring/audit/audit-entry.js';
import { appendAuditRecords } from '../../monitoring/audit/audit.repository.js';
import {
  accountLockedEvent,
  loginFailedEvent,
} from '../../monitoring/security-events/identity-events.js';
import { hashPassword, verifyPassword } from '../../tenancy/users/password.js';
import {
  findUserCredentialsByEmail,
  UnreadableUserError,
  type User,
  type UserCredentials,
} from '../../tenancy/users/user.repository.js';
import { findMfaStatus, insertMfaChallenge } from '../mfa/mfa.repository.js';
import type { IdentityServices } from './identity.js';
import { accountThrottleKey, addressThrottleKey, type ThrottleScope } from './login-throttle.js';
import { needsRehash } from './password-rehash.js';
import type { SessionType } from './session.repository.js';
import { userActor, type OpenedSession } from './session.service.js';
import { generateChallengeToken } from './session-token.js';

/**
 * Maximum time one sign-in attempt keeps its account's claim; it only matters when a process
 * dies mid-attempt, because every attempt releases its claim when it ends.
 */
const ATTEMPT_CLAIM_TTL_MS = 10_000;

/**
 * Appends audit records outside any other transaction. The log head is locked with
 * `SELECT ... FOR UPDATE`, which holds only inside a transaction, so concurrent appends on
 * the pool would read the same head and fail.
 */
function appendAudit(db: Database, records: AuditRecord[]): Promise<void> {
  return db.transaction((tx) => appendAuditRecords(tx, records));
}

/** How long the second sign-in step may take after the password was accepted. */
export const MFA_CHALLENGE_TTL_MS = 5 * 60 * 1000;

export type LoginOutcome =
  | { kind: 'session'; opened: OpenedSession; user: User; mfaEnrollmentRequired: boolean }
  | { kind: 'mfa_required'; challengeToken: string; expiresAt: Date };

/**
 * A sign-in rejected because the account or the client address is locked. The response is
 * the same whether or not the account exists.
 */
export class LoginLockedError extends AppError {
  constructor(readonly retryAfterSeconds: number) {
    super('rate_limited', 'Too many failed sign-ins; try again later');
  }
}

/** The throttle keys of one sign-in attempt. */
export interface ThrottleKeys {
  account: string;
  ip: string;
}

export function throttleKeys(email: string, context: RequestContext): ThrottleKeys {
  return { account: accountThrottleKey(email), ip: addressThrottleKey(context.ip) };
}

/**
 * Runs `attempt` while it holds the account's attempt claim, so that concurrent guesses for
 * one account are checked against the lockout one after another; otherwise they would all
 * pass the check before the first of them is counted. While another attempt holds the claim,
 * `onBusy` audits the rejection and the attempt is rejected as locked.
 */
export async function withAccountClaim<T>(
  identity: IdentityServices,
  accountKey: string,
  onBusy: () => Promise<void>,
  attempt: () => Promise<T>,
): Promise<T> {
  const claim = await identity.throttle.claimAttempt(
    accountKey,
    ATTEMPT_CLAIM_TTL_MS,
    identity.clock(),
  );
  if (claim === null) {
    await onBusy();
    throw new LoginLockedError(1);
  }
  try {
    return await attempt();
  } finally {
    await identity.throttle.releaseAttempt(accountKey, claim);
  }
}

/** Throws `LoginLockedError` when the account or the address is locked. */
export async function assertNotLocked(
  identity: IdentityServices,
  keys: ThrottleKeys,
): Promise<void> {
  const now = identity.clock();
  const [account, ip] = await Promise.all([
    identity.throttle.lockedForMs('account', keys.account, now),
    identity.throttle.lockedForMs('ip', keys.ip, now),
  ]);
  const lockedMs = Math.max(account, ip);
  if (lockedMs > 0) throw new LoginLockedError(Math.ceil(lockedMs / 1000));
}

/**
 * Counts a failed attempt against the account and the address, and returns the
 * `user.locked_out` audit records of the lockouts it started.
 */
export async function recordLoginFailure(
  identity: IdentityServices,
  keys: ThrottleKeys,
  context: RequestContext,
  user: { id: string; email: string } | null,
  reason: string,
): Promise<AuditRecord[]> {
  const { settings, throttle } = identity;
  const now = identity.clock();
  const rules: Record<ThrottleScope, number> = {
    account: settings.accountFailureLimit,
    ip: settings.ipFailureLimit,
  };
  const records: AuditRecord[] = [];
  for (const scope of ['account', 'ip'] as const) {
    const outcome = await throttle.recordFailure(
      scope,
      keys[scope],
      { failureLimit: rules[scope], baseMs: settings.lockoutBaseMs, maxMs: settings.lockoutMaxMs },
      now,
    );
    if (outcome.lockedForMs === 0) continue;
    const lockout = {
      scope,
      lockedForSeconds: Math.ceil(outcome.lockedForMs / 1000),
      lockouts: outcome.lockouts,
    };
    identity.securityEvents?.record(accountLockedEvent(context, user?.id ?? null, lockout));
    records.push(
      buildAuditRecord(user ? userActor(user, null) : { type: 'system', id: null }, context, {
        action: 'user.locked_out',
        resourceType: 'user',
        resourceId: user?.id ?? null,
        metadata: {
          scope,
          reason,
          lockedForSeconds: Math.ceil(outcome.lockedForMs / 1000),
          lockouts: outcome.lockouts,
        },
        sensitivity: 'sensitive',
        complianceRelevant: true,
      }),
    );
  }
  return records;
}

function loginFailedRecord(
  context: RequestContext,
  user: { id: string; email: string } | null,
  reason: string,
): AuditRecord {
  return buildAuditRecord(user ? userActor(user, null) : { type: 'system', id: null }, context, {
    action: 'user.login_failed',
    resourceType: 'user',
    resourceId: user?.id ?? null,
    metadata: { reason },
    sensitivity: 'sensitive',
    complianceRelevant: true,
  });
}

async function rehashIfWeak(tx: Queryable, user: UserCredentials, password: string): Promise<void> {
  if (!user.passwordHash || !needsRehash(user.passwordHash)) return;
  // Compare-and-set: a password change that landed meanwhile is not overwritten.
  await tx.query(
    'UPDATE users SET password_hash = $3, updated_at = now() WHERE id = $1 AND password_hash = $2',
    [user.id, user.passwordHash, await hashPassword(password)],
  );
}

/**
 * Checks an email and password. Unknown emails, disabled users and wrong passwords all give
 * the same failure after the same argon2id work, and each is audited and counted towards a
 * lockout of the account and of the client address. A user with a confirmed second factor
 * gets an MFA challenge instead of a session.
 */
export async function login(
  identity: IdentityServices,
  context: RequestContext,
  input: { email: string; password: string; sessionType: SessionType },
): Promise<LoginOutcome> {
  const { db } = identity;
  const keys = throttleKeys(input.email, context);
  const found = await findLoginUser(db, input.email);
  const { user } = found;

  return withAccountClaim(
    identity,
    keys.account,
    () => appendAudit(db, [loginFailedRecord(context, user, 'concurrent_attempt')]),
    () => checkPassword(identity, context, input, keys, found),
  );
}

/** The account of a sign-in, or the id of a matching account whose fields do not decrypt. */
interface LoginUser {
  user: UserCredentials | null;
  unreadableUserId: string | null;
}

/**
 * Looks the account up by email. An account whose stored fields do not decrypt (altered, or its
 * key destroyed by an erasure) cannot sign in, and the attempt fails with the same 401 as a wrong password.
 */
async function findLoginUser(db: Database, email: string): Promise<LoginUser> {
  try {
    return { user: await findUserCredentialsByEmail(db, email), unreadableUserId: null };
  } catch (error) {
    if (!(error instanceof UnreadableUserError)) throw error;
    return { user: null, unreadableUserId: error.userId };
  }
}

function failureReason(found: LoginUser, passwordOk: boolean): string {
  if (found.unreadableUserId !== null) return 'user_unreadable';
  if (!found.user) return 'unknown_email';
  if (!passwordOk) return 'wrong_password';
  return 'user_disabled';
}

async function checkPassword(
  identity: IdentityServices,
  context: RequestContext,
  input: { email: string; password: string; sessionType: SessionType },
  keys: ThrottleKeys,
  found: LoginUser,
): Promise<LoginOutcome> {
  const { user } = found;
  const { db } = identity;
  try {
    await assertNotLocked(identity, keys);
  } catch (error) {
    if (error instanceof LoginLockedError) {
      await appendAudit(db, [loginFailedRecord(context, user, 'locked_out')]);
    }
    throw error;
  }

  const passwordOk = await verifyPassword(user?.passwordHash ?? null, input.password);
  if (!user || !passwordOk || user.status !== 'active') {
    const reason = failureReason(found, passwordOk);
    const userId = user?.id ?? found.unreadableUserId;
    identity.securityEvents?.record(loginFailedEvent(context, userId, reason));
    const lockouts = await recordLoginFailure(identity, keys, context, user, reason);
    await appendAudit(db, [loginFailedRecord(context, user, reason), ...lockouts]);
    throw new AppError('unauthorized', 'Invalid email or password');
  }

  await identity.throttle.reset('account', keys.account);
  const mfa = await findMfaStatus(db, user.id);
  const { passwordHash: _omitted, ...publicUser } = user;

  if (mfa.enrolled) {
    const challenge = generateChallengeToken();
    const expiresAt = new Date(identity.clock() + MFA_CHALLENGE_TTL_MS);
    await db.transaction(async (tx) => {
      await rehashIfWeak(tx, user, input.password);
      await insertMfaChallenge(tx, {
        hash: challenge.hash,
        userId: user.id,
        sessionType: input.sessionType,
        expiresAt,
      });
    });
    return { kind: 'mfa_required', challengeToken: challenge.token, expiresAt };
  }

  // Encrypting the session client can read the key store, which on embedded PostgreSQL waits
  // for any open transaction, so it happens before the transaction.
  const prepared = await identity.sessions.prepare(context);
  const opened = await db.transaction(async (tx) => {
    await rehashIfWeak(tx, user, input.password);
    return identity.sessions.open(tx, user, context, {
      sessionType: input.sessionType,
      mfaMethod: null,
      prepared,
    });
  });
  return {
    kind: 'session',
    opened,
    user: publicUser,
    mfaEnrollmentRequired: mfa.required,
  };
}
