import type { BenchCase } from './corpus.js';

/** Media types of Fastify's default body parsers, the only bodies a route accepts. */
const PARSED_TYPES = new Set(['application/json', 'text/plain']);

function isParsedType(contentType: string): boolean {
  return PARSED_TYPES.has(contentType.split(';')[0]?.trim().toLowerCase() ?? '');
}

/**
 * Returns the ids of cases that carry a body no route accepts: any non-empty body whose
 * Content-Type is neither JSON nor plain text. With the WAF on, the server reads such a body
 * as text for the WAF only, then rejects it with 415 (404 on an unknown path). Servers built
 * before that change never passed these bodies to the WAF, so the report keeps them apart.
 * Raw-socket cases are left out, because their bytes are not parsed here.
 */
export function casesWithUnreadBody(cases: readonly BenchCase[]): Set<string> {
  const ids = new Set<string>();
  for (const item of cases) {
    const { request } = item;
    if (item.raw !== undefined || request.body === undefined) continue;
    if (isParsedType(String(request.headers['content-type'] ?? ''))) continue;
    ids.add(item.id);
  }
  return ids;
}
