import type { IDToken, UserInfoResponse } from 'openid-client';

import { emailSchema } from '../../tenancy/users/user.schema.js';

/** The claims MindWeave reads from the provider about the person signing in. */
export interface SsoClaims {
  subject: string;
  email: string | null;
  emailVerified: boolean;
  name: string | null;
  groups: string[];
}

/** Groups read from one claim; more than this many is treated as a malformed claim. */
const MAX_GROUPS = 1000;

function stringClaim(value: unknown, max: number): string | null {
  return typeof value === 'string' && value.length > 0 && value.length <= max ? value : null;
}

/**
 * Returns the email claim lower-cased when it is an address that sign-up accepts too, else null.
 * Addresses outside ASCII are rejected: toLowerCase maps some of them onto another user's ASCII
 * address (U+212A KELVIN SIGN becomes k), and their UTF-8 form can exceed the encrypted column.
 */
function emailClaim(value: unknown): string | null {
  const parsed = emailSchema.safeParse(value);
  return parsed.success ? parsed.data : null;
}

function groupsFrom(value: unknown): string[] {
  if (typeof value === 'string') return value.length <= 255 ? [value] : [];
  if (!Array.isArray(value) || value.length > MAX_GROUPS) return [];
  return value.filter((group): group is string => typeof group === 'string' && group.length <= 255);
}

/**
 * Reads the claims of a validated ID token, filling what it lacks from the UserInfo response
 * (whose `sub` openid-client has already compared with the ID token's). Providers differ in
 * which of the two carries email and groups, so either is accepted, and the ID token wins.
 */
export function readClaims(
  idToken: IDToken,
  userInfo: UserInfoResponse | null,
  groupsClaim: string,
): SsoClaims {
  const pick = (name: string): unknown => idToken[name] ?? userInfo?.[name];
  const verified = pick('email_verified');
  return {
    subject: idToken.sub,
    email: emailClaim(pick('email')),
    emailVerified: verified === true || verified === 'true',
    name: stringClaim(pick('name'), 100),
    groups: groupsFrom(pick(groupsClaim)),
  };
}
