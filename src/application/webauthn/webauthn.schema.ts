import { z } from 'zod';

import { WEBAUTHN_TRANSPORTS } from './webauthn.repository.js';

const base64url = (max: number) =>
  z
    .string()
    .min(1)
    .max(max)
    .regex(/^[A-Za-z0-9_-]+$/, 'Must be base64url without padding');

// Credential ids are at most 1023 bytes (WebAuthn Level 3), which is 1364 base64url characters.
const credentialId = base64url(1366);

const transports = z.array(z.enum(WEBAUTHN_TRANSPORTS)).max(8);

/** Client extension outputs; none are requested, so whatever a browser adds is ignored. */
const extensionResults = z.record(z.string().max(64), z.unknown());

/** The JSON form of `navigator.credentials.create()`'s result, as browsers' `toJSON()` gives it. */
export const registrationCredentialSchema = z.strictObject({
  id: credentialId,
  rawId: credentialId,
  type: z.literal('public-key'),
  authenticatorAttachment: z.enum(['platform', 'cross-platform']).optional(),
  clientExtensionResults: extensionResults,
  response: z.strictObject({
    clientDataJSON: base64url(8192),
    attestationObject: base64url(65536),
    authenticatorData: base64url(65536).optional(),
    transports: transports.optional(),
    publicKeyAlgorithm: z.number().int().optional(),
    publicKey: base64url(8192).optional(),
  }),
});

/** The JSON form of `navigator.credentials.get()`'s result. */
export const authenticationCredentialSchema = z.strictObject({
  id: credentialId,
  rawId: credentialId,
  type: z.literal('public-key'),
  authenticatorAttachment: z.enum(['platform', 'cross-platform']).optional(),
  clientExtensionResults: extensionResults,
  response: z.strictObject({
    clientDataJSON: base64url(8192),
    authenticatorData: base64url(65536),
    signature: base64url(1024),
    userHandle: base64url(128).optional(),
  }),
});

export const registrationVerifySchema = z.strictObject({
  name: z
    .string()
    .trim()
    .min(1)
    .max(64)
    .refine((name) => !/\p{Cc}/u.test(name), 'Name must not contain control characters'),
  credential: registrationCredentialSchema,
});

export const challengeOptionsSchema = z.strictObject({
  challengeToken: z.string().min(1).max(100),
});

export const challengeVerifySchema = z.strictObject({
  challengeToken: z.string().min(1).max(100),
  credential: authenticationCredentialSchema,
});

export const removeCredentialSchema = z.strictObject({
  currentPassword: z.string().min(1).max(256),
});

export const credentialIdParamsSchema = z.strictObject({ id: z.uuid() });
