import {
  generateAuthenticationOptions,
  verifyAuthenticationResponse,
  type PublicKeyCredentialRequestOptionsJSON,
} from '@simplewebauthn/server';
import type { z } from 'zod';

import { AppError } from '../../http/errors.js';
import type { RequestContext } from '../../http/request-context.js';
import { buildAuditRecord } from '../../monitoring/audit/audit-entry.js';
import { appendAuditRecords } from '../../monitoring/audit/audit.repository.js';
import { findUserCredentialsById, type User } from '../../tenancy/users/user.repository.js';
import { assertNotLocked, recordLoginFailure, throttleKeys } from '../auth/login.service.js';
import { userActor, type OpenedSession } from '../auth/session.service.js';
import { hashChallengeToken } from '../auth/session-token.js';
import {
  consumeMfaChallenge,
  countMfaChallengeAttempt,
  findMfaStatus,
  findOpenMfaChallenge,
  type MfaChallenge,
} from '../mfa/mfa.repository.js';
import { MAX_CHALLENGE_ATTEMPTS } from '../mfa/mfa.service.js';
import {
  advanceCounter,
  consumeChallenge,
  findCredentialByCredentialId,
  insertChallenge,
  listCredentials,
  type WebAuthnCredentialRecord,
} from './webauthn.repository.js';
import type { authenticationCredentialSchema } from './webauthn.schema.js';
import {
  WEBAUTHN_CHALLENGE_TTL_MS,
  type WebAuthnServices,
} from './webauthn-registration.service.js';

type AssertionInput = z.output<typeof authenticationCredentialSchema>;

function invalidChallenge(): AppError {
  return new AppError('unauthorized', 'Invalid or expired MFA challenge or credential');
}

/** The open MFA sign-in of a challenge token and its active user, or an `unauthorized` error. */
async function openChallenge(
  services: WebAuthnServices,
  challengeToken: string,
): Promise<{ challenge: MfaChallenge; user: User }> {
  const { db } = services.identity;
  const hash = hashChallengeToken(challengeToken);
  const challenge = hash ? await findOpenMfaChallenge(db, hash, MAX_CHALLENGE_ATTEMPTS) : null;
  if (!challenge) throw invalidChallenge();
  const credentials = await findUserCredentialsById(db, challenge.userId);
  if (!credentials || credentials.status !== 'active') throw invalidChallenge();
  const { passwordHash: _omitted, ...user } = credentials;
  return { challenge, user };
}

/**
 * Returns the options for `navigator.credentials.get()` at the MFA step of a sign-in, limited
 * to the user's registered credentials. The WebAuthn challenge is stored with the pending
 * sign-in, so an assertion made for one sign-in cannot complete another.
 */
export async function beginAssertion(
  services: WebAuthnServices,
  challengeToken: string,
): Promise<PublicKeyCredentialRequestOptionsJSON> {
  const { identity, settings } = services;
  const { challenge, user } = await openChallenge(services, challengeToken);
  const credentials = await listCredentials(identity.db, user.id);
  if (credentials.length === 0) throw invalidChallenge();
  const options = await generateAuthenticationOptions({
    rpID: settings.rpId,
    timeout: WEBAUTHN_CHALLENGE_TTL_MS,
    userVerification: 'preferred',
    allowCredentials: credentials.map((credential) => ({
      id: credential.credentialId,
      transports: credential.transports,
    })),
  });
  await insertChallenge(identity.db, {
    userId: user.id,
    purpose: 'authentication',
    challenge: options.challenge,
    sessionId: null,
    mfaChallengeId: challenge.id,
    expiresAt: new Date(identity.clock() + WEBAUTHN_CHALLENGE_TTL_MS),
  });
  return options;
}

/** The signature counter of an assertion's authenticator data (bytes 33-36, big-endian). */
function assertionCounter(authenticatorData: string): number | null {
  const bytes = Buffer.from(authenticatorData, 'base64url');
  return bytes.length >= 37 ? bytes.readUInt32BE(33) : null;
}

/**
 * Checks an assertion and returns null when it is good, or the audit reason of the failure.
 * A counter that did not grow (when either side is non-zero) points to a cloned authenticator
 * or a replayed assertion, and is rejected before the signature is checked.
 */
async function checkAssertion(
  services: WebAuthnServices,
  assertion: AssertionInput,
  expectedChallenge: string,
  credential: WebAuthnCredentialRecord,
): Promise<{ reason: string } | { newCounter: number }> {
  const counter = assertionCounter(assertion.response.authenticatorData);
  if (counter === null) return { reason: 'invalid_assertion' };
  if ((counter > 0 || credential.counter > 0) && counter <= credential.counter) {
    return { reason: 'counter_regression' };
  }
  try {
    const result = await verifyAuthenticationResponse({
      response: assertion,
      expectedChallenge,
      expectedOrigin: services.settings.origin,
      expectedRPID: services.settings.rpId,
      credential: {
        id: credential.credentialId,
        publicKey: new Uint8Array(credential.publicKey),
        counter: credential.counter,
        transports: credential.transports,
      },
      requireUserVerification: false,
    });
    if (!result.verified) return { reason: 'invalid_assertion' };
    return { newCounter: result.authenticationInfo.newCounter };
  } catch {
    return { reason: 'invalid_assertion' };
  }
}

/**
 * Completes an MFA sign-in with a WebAuthn assertion and opens the session. The credential
 * must belong to the signing-in user, the assertion must answer the challenge issued for this
 * sign-in, come from the configured origin and RP id, and carry a counter above the stored one.
 * Failures are audited and count towards the lockout like wrong TOTP codes.
 */
export async function completeAssertion(
  services: WebAuthnServices,
  context: RequestContext,
  input: { challengeToken: string; credential: AssertionInput },
): Promise<{ opened: OpenedSession; user: User; mfaEnrollmentRequired: boolean }> {
  const { identity } = services;
  const { db } = identity;
  const { challenge, user } = await openChallenge(services, input.challengeToken);
  const keys = throttleKeys(user.email, context);
  await assertNotLocked(identity, keys);

  const prepared = await identity.sessions.prepare(context);
  const outcome = await db.transaction(async (tx) => {
    const expected = await consumeChallenge(tx, 'authentication', { mfaChallengeId: challenge.id });
    if (!expected) return { ok: false as const, reason: 'no_webauthn_challenge' };
    const credential = await findCredentialByCredentialId(tx, input.credential.id);
    if (!credential || credential.userId !== user.id) {
      return { ok: false as const, reason: 'unknown_credential' };
    }
    const checked = await checkAssertion(services, input.credential, expected, credential);
    if ('reason' in checked) return { ok: false as const, reason: checked.reason };
    if (!(await advanceCounter(tx, credential.id, credential.counter, checked.newCounter))) {
      return { ok: false as const, reason: 'counter_regression' };
    }
    if (!(await consumeMfaChallenge(tx, challenge.id))) {
      return { ok: false as const, reason: 'challenge_used' };
    }
    const opened = await identity.sessions.open(tx, user, context, {
      sessionType: challenge.sessionType,
      mfaMethod: 'webauthn',
      prepared,
    });
    return { ok: true as const, opened };
  });

  if (!outcome.ok) {
    await countMfaChallengeAttempt(db, challenge.id);
    const lockouts = await recordLoginFailure(identity, keys, context, user, outcome.reason);
    // In a transaction of its own: the audit head lock holds only inside one.
    const failed = [
      buildAuditRecord(userActor(user, null), context, {
        action: 'user.mfa_challenge_failed',
        resourceType: 'user',
        resourceId: user.id,
        metadata: { reason: outcome.reason, method: 'webauthn' },
        sensitivity: 'sensitive',
        complianceRelevant: true,
      }),
      ...lockouts,
    ];
    await db.transaction((tx) => appendAuditRecords(tx, failed));
    throw invalidChallenge();
  }

  await identity.throttle.reset('account', keys.account);
  const status = await findMfaStatus(db, user.id);
  return {
    opened: outcome.opened,
    user,
    mfaEnrollmentRequired: status.required && !status.enrolled,
  };
}
