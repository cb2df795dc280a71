import type { WafExclusion } from './types.js';

/**
 * Top-level JSON fields of the admin API whose values are secrets: passwords (only hashed with
 * Argon2id or compared with a hash), provider API keys and SSO client secrets (only encrypted
 * and stored). No rule inspects these values. A random password such as one with `@@` or `!-7`
 * in it matched SQL injection and shell rules, so a generated one-time password could not sign
 * in, and a blocked value would have been copied into the block log's sample. Field names and
 * every other field of the same body are still inspected.
 */
export const SECRET_FIELDS = [
  'password',
  'currentPassword',
  'newPassword',
  'apiKey',
  'clientSecret',
] as const;

/** Exclusions of every rule at the values of `SECRET_FIELDS` in a JSON body, on every route. */
export const SECRET_FIELD_EXCLUSIONS: readonly WafExclusion[] = SECRET_FIELDS.map((field) => ({
  location: `body:$.${field}`,
}));
