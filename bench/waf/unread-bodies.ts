import type { BenchCase } from './corpus.js';

/** Media types of Fastify's default body parsers. MindWeave registers no other parser. */
const PARSED_TYPES = new Set(['application/json', 'text/plain']);

function isParsedType(contentType: string): boolean {
  return PARSED_TYPES.has(contentType.split(';')[0]?.trim().toLowerCase() ?? '');
}

/**
 * Returns the ids of cases that carry a body MindWeave never parses: any non-empty body whose
 * Content-Type is neither JSON nor plain text. A route rejects such a request with 415 before
 * the WAF runs, and Fastify responds 404 to an unknown path without reading the body, so the
 * WAF never inspects it. Raw-socket cases are left out, because their bytes are not parsed
 * here.
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
