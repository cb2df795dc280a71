import type { IDToken, UserInfoResponse } from 'openid-client';

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
    email: stringClaim(pick('email'), 255)?.toLowerCase() ?? null,
    emailVerified: verified === true || verified === 'true',
    name: stringClaim(pick('name'), 100),
    groups: groupsFrom(pick(groupsClaim)),
  };
}
