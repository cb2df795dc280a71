import type { IncomingHttpHeaders } from 'node:http';

/** Returned when the two headers name different keys; it never matches a key's shape. */
export const CONFLICTING_KEYS = 'conflicting-api-keys';

/**
 * The API key a client presented: `x-api-key` (Anthropic SDK) or `Authorization: Bearer`
 * (OpenAI SDK). When both are present they must agree, so one header cannot smuggle a
 * second credential past logging or limits keyed on the other.
 */
export function presentedApiKey(headers: IncomingHttpHeaders): string | undefined {
  const xApiKey = headers['x-api-key'];
  const fromHeader = typeof xApiKey === 'string' ? xApiKey.trim() : undefined;
  const authorization = headers.authorization;
  const match =
    typeof authorization === 'string' ? /^Bearer\s+(\S+)\s*$/i.exec(authorization) : null;
  const fromBearer = match?.[1];
  if (fromHeader && fromBearer && fromHeader !== fromBearer) return CONFLICTING_KEYS;
  return fromHeader || fromBearer || undefined;
}
