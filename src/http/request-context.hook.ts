import type { FastifyRequest } from 'fastify';

import type { RequestContext } from './request-context.js';

const MAX_USER_AGENT = 512;

/** The request facts recorded in audit entries; the User-Agent is cut to 512 characters. */
export function requestContext(request: FastifyRequest): RequestContext {
  const userAgent = request.headers['user-agent'];
  return {
    requestId: request.id,
    // The socket's address is gone once the client disconnects; take the context early.
    ip: request.ip ?? null,
    userAgent: typeof userAgent === 'string' ? userAgent.slice(0, MAX_USER_AGENT) : null,
  };
}
