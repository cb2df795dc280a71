import {
  generateRegistrationOptions,
  verifyRegistrationResponse,
  type PublicKeyCredentialCreationOptionsJSON,
} from '@simplewebauthn/server';
import type { z } from 'zod';

import { AppError } from '../../http/errors.js';
import type { RequestContext } from '../../http/request-context.js';
import { buildAuditRecord } from '../../monitoring/audit/audit-entry.js';
import { appendAuditRecords } from '../../monitoring/audit/audit.repository.js';
import { verifyCurrentPassword } from '../auth/current-password.js';
import type { IdentityServices } from '../auth/identity.js';
import { revokeSession } from '../auth/session.repository.js';
import { userActor, type OpenedSession, type SessionPrincipal } from '../auth/session.service.js';
import { findMfaStatus } from '../mfa/mfa.repository.js';
import {
  consumeChallenge,
  deleteCredential,
  insertChallenge,
  insertCredential,
  listCredentials,
  WEBAUTHN_TRANSPORTS,
  type WebAuthnCredentialSummary,
  type WebAuthnTransport,
} from './webauthn.repository.js';
import type { registrationCredentialSchema } from './webauthn.schema.js';
import type { WebAuthnSettings } from './webauthn-settings.js';

/** How long a browser has to complete a registration or an assertion. */
export const WEBAUTHN_CHALLENGE_TTL_MS = 5 * 60 * 1000;

/** Credentials one user may register; enough for a few keys and devices. */
export const MAX_CREDENTIALS_PER_USER = 10;

/** Everything the WebAuthn services need. */
export interface WebAuthnServices {
  identity: IdentityServices;
  settings: WebAuthnSettings;
}

/** A credential as the API returns it: never the public key or the raw credential id. */
export interface WebAuthnCredentialView {
  id: string;
  name: string;
  transports: WebAuthnTransport[];
  deviceType: 'singleDevice' | 'multiDevice';
  backedUp: boolean;
  createdAt: string;
  lastUsedAt: string | null;
}

export function credentialView(credential: WebAuthnCredentialSummary): WebAuthnCredentialView {
  return {
    id: credential.id,
    name: credential.name,
    transports: credential.transports,
    deviceType: credential.deviceType,
    backedUp: credential.backedUp,
    createdAt: credential.createdAt.toISOString(),
    lastUsedAt: credential.lastUsedAt?.toISOString() ?? null,
  };
}

/** The WebAuthn user handle: the user's UUID as 16 bytes, which carries no personal data. */
function userHandle(userId: string): Uint8Array<ArrayBuffer> {
  return new Uint8Array(Buffer.from(userId.replaceAll('-', ''), 'hex'));
}

export async function listOwnCredentials(
  services: WebAuthnServices,
  userId: string,
): Promise<WebAuthnCredentialView[]> {
  return (await listCredentials(services.identity.db, userId)).map(credentialView);
}

/**
 * Starts registering a credential for the signed-in user and returns the options for
 * `navigator.credentials.create()`. A user who already has a second factor must be in a
 * session that used it, so a session from before enrollment cannot add a factor.
 */
export async function beginRegistration(
  services: WebAuthnServices,
  principal: SessionPrincipal,
): Promise<PublicKeyCredentialCreationOptionsJSON> {
  const { identity, settings } = services;
  const { user, session } = principal;
  const status = await findMfaStatus(identity.db, user.id);
  if (status.enrolled && !session.mfaVerified) {
    throw new AppError('forbidden', 'Sign in with your second factor before adding another');
  }
  const existing = await listCredentials(identity.db, user.id);
  if (existing.length >= MAX_CREDENTIALS_PER_USER) {
    throw new AppError(
      'conflict',
      `At most ${MAX_CREDENTIALS_PER_USER} WebAuthn credentials; remove one first`,
    );
  }
  const options = await generateRegistrationOptions({
    rpName: settings.rpName,
    rpID: settings.rpId,
    userName: user.email,
    userDisplayName: user.name,
    userID: userHandle(user.id),
    timeout: WEBAUTHN_CHALLENGE_TTL_MS,
    attestationType: 'none',
    excludeCredentials: existing.map((credential) => ({
      id: credential.credentialId,
      transports: credential.transports,
    })),
    authenticatorSelection: { residentKey: 'preferred', userVerification: 'preferred' },
  });
  await insertChallenge(identity.db, {
    userId: user.id,
    purpose: 'registration',
    challenge: options.challenge,
    sessionId: session.id,
    mfaChallengeId: null,
    expiresAt: new Date(identity.clock() + WEBAUTHN_CHALLENGE_TTL_MS),
  });
  return options;
}

function invalidCredential(message: string): AppError {
  return new AppError('validation_failed', 'Validation error', [{ field: 'credential', message }]);
}

function knownTransports(values: readonly string[] | undefined): WebAuthnTransport[] {
  const known = new Set<string>(WEBAUTHN_TRANSPORTS);
  return (values ?? []).filter((value): value is WebAuthnTransport => known.has(value));
}

/**
 * Verifies the authenticator's attestation against the pending challenge, origin and RP id,
 * stores the credential, and replaces the session with a new MFA-verified one, as TOTP
 * enrollment does.
 */
export async function finishRegistration(
  services: WebAuthnServices,
  context: RequestContext,
  principal: SessionPrincipal,
  input: { name: string; credential: z.output<typeof registrationCredentialSchema> },
): Promise<{ credential: WebAuthnCredentialView; opened: OpenedSession }> {
  const { identity, settings } = services;
  const { user, session } = principal;
  const expectedChallenge = await consumeChallenge(identity.db, 'registration', {
    sessionId: session.id,
  });
  if (!expectedChallenge) {
    throw new AppError(
      'conflict',
      'No WebAuthn registration is pending or it expired; request new options first',
    );
  }

  let verified;
  try {
    verified = await verifyRegistrationResponse({
      response: input.credential,
      expectedChallenge,
      expectedOrigin: settings.origin,
      expectedRPID: settings.rpId,
      requireUserVerification: false,
    });
  } catch {
    throw invalidCredential('The credential does not match the registration request');
  }
  if (!verified.verified) throw invalidCredential('The attestation could not be verified');
  const info = verified.registrationInfo;

  const prepared = await identity.sessions.prepare(context);
  return identity.db.transaction(async (tx) => {
    const stored = await insertCredential(tx, {
      userId: user.id,
      credentialId: info.credential.id,
      publicKey: Buffer.from(info.credential.publicKey),
      counter: info.credential.counter,
      transports: knownTransports(input.credential.response.transports),
      name: input.name,
      deviceType: info.credentialDeviceType,
      backedUp: info.credentialBackedUp,
    });
    if (!stored) throw new AppError('conflict', 'This authenticator is already registered');
    await revokeSession(tx, session.id);
    const opened = await identity.sessions.open(tx, user, context, {
      sessionType: session.sessionType,
      mfaMethod: 'webauthn',
      auditLogin: false,
      prepared,
    });
    await appendAuditRecords(tx, [
      buildAuditRecord(userActor(user, session.id), context, {
        action: 'user.mfa_enrolled',
        resourceType: 'user',
        resourceId: user.id,
        metadata: {
          method: 'webauthn',
          credentialId: stored.id,
          replacedSessionId: session.id,
          newSessionId: opened.session.id,
        },
        sensitivity: 'sensitive',
        complianceRelevant: true,
      }),
    ]);
    return { credential: credentialView(stored), opened };
  });
}

/** Removes one of the user's credentials after checking the current password. */
export async function removeCredential(
  services: WebAuthnServices,
  context: RequestContext,
  principal: SessionPrincipal,
  input: { id: string; currentPassword: string },
): Promise<void> {
  const { db } = services.identity;
  await verifyCurrentPassword(services.identity, context, principal, input.currentPassword);
  await db.transaction(async (tx) => {
    const removed = await deleteCredential(tx, principal.user.id, input.id);
    if (!removed) throw new AppError('not_found', 'No such WebAuthn credential');
    await appendAuditRecords(tx, [
      buildAuditRecord(userActor(principal.user, principal.session.id), context, {
        action: 'user.mfa_removed',
        resourceType: 'user',
        resourceId: principal.user.id,
        metadata: { method: 'webauthn', credentialId: removed.id },
        sensitivity: 'sensitive',
        complianceRelevant: true,
      }),
    ]);
  });
}
