import type { FastifyInstance, FastifyRequest } from 'fastify';

import type { Config } from '../../config/config.schema.js';
import { GatewayError } from '../../gateway/gateway-error.js';
import { AppError, type ErrorCode } from '../../http/errors.js';
import type { PerimeterBlockListener } from '../perimeter-block.js';
import { isGatewayRequest } from '../rate-limit/rate-limit.http.js';

// Routes a load balancer probes; probes often send no User-Agent.
const PROBE_ROUTES = new Set(['/healthz', '/readyz']);

// Printable ASCII, as RFC 9110 product tokens and comments are; at most 512 characters.
const USER_AGENT_PATTERN = /^[\x21-\x7e][\x20-\x7e]{0,511}$/;

// Headers that frame the request body or name its target: a repeat of any of them lets a proxy
// and MindWeave disagree on where a request ends or which host it is for.
const SINGLE_HEADERS = ['content-length', 'transfer-encoding', 'host'];

/** Builds the error for a rejected request, in the admin envelope or the provider's shape. */
function rejection(request: FastifyRequest, code: ErrorCode, message: string): Error {
  return isGatewayRequest(request) ? new GatewayError(code, message) : new AppError(code, message);
}

/** Reports a rejected request to `onBlock` with the rule `request_limit:<rule>`. */
function reportBlock(
  onBlock: PerimeterBlockListener | undefined,
  request: FastifyRequest,
  rule: string,
  location: string | null = null,
  sample: string | null = null,
): void {
  onBlock?.(request, {
    source: 'request_limit',
    ruleIds: [`request_limit:${rule}`],
    location,
    sample,
  });
}

/** Counts the header lines named `name` (lowercase) as they arrived, before Node merged them. */
function headerLineCount(request: FastifyRequest, name: string): number {
  const raw = request.raw.rawHeaders;
  let count = 0;
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i]?.toLowerCase() === name) count += 1;
  }
  return count;
}

/**
 * Rejects the request shapes Node's parser still accepts but a proxy in front might read
 * differently. Node 20 already rejects Content-Length with Transfer-Encoding, a repeated
 * Content-Length and unknown codings with 400 before any hook runs.
 */
function smugglingProblem(request: FastifyRequest): string | null {
  for (const name of SINGLE_HEADERS) {
    if (headerLineCount(request, name) > 1) return `The ${name} header must appear only once`;
  }
  const transferEncoding = request.headers['transfer-encoding'];
  if (transferEncoding === undefined) return null;
  if (request.raw.httpVersion !== '1.1') {
    return 'Transfer-Encoding is not allowed before HTTP/1.1';
  }
  if (transferEncoding.trim().toLowerCase() !== 'chunked') {
    return 'Transfer-Encoding must be exactly "chunked"';
  }
  if (request.headers['content-length'] !== undefined) {
    return 'Content-Length and Transfer-Encoding must not both be sent';
  }
  return null;
}

/** Returns true when `host` (a Host header) matches an entry, with or without its port. */
function isAllowedHost(host: string, allowed: readonly string[]): boolean {
  const value = host.toLowerCase();
  const name = value.startsWith('[') ? value.slice(0, value.indexOf(']') + 1) : value.split(':')[0];
  return allowed.includes(value) || (name !== undefined && allowed.includes(name));
}

/**
 * Adds the request checks of the perimeter: a lower body limit for admin routes, header count,
 * request smuggling shapes, User-Agent and the Host allow-list. It must be registered before
 * any route, because the body limit is set on each route as it is added. Rejected requests
 * are reported to `onBlock`.
 */
export function registerRequestLimits(
  app: FastifyInstance,
  config: Config,
  onBlock?: PerimeterBlockListener,
): void {
  app.addHook('onRoute', (route) => {
    if (route.url.startsWith('/api/v1') && route.bodyLimit === undefined) {
      route.bodyLimit = config.ADMIN_BODY_LIMIT_BYTES;
    }
  });

  app.addHook('onRequest', async (request, reply) => {
    const headerCount = request.raw.rawHeaders.length / 2;
    if (headerCount > config.MAX_HEADER_COUNT) {
      reportBlock(onBlock, request, 'header_count');
      reply.header('connection', 'close');
      throw rejection(
        request,
        'headers_too_large',
        `Too many request headers: at most ${config.MAX_HEADER_COUNT} are accepted`,
      );
    }

    const smuggling = smugglingProblem(request);
    if (smuggling) {
      reportBlock(onBlock, request, 'smuggling');
      // Bytes after this request may be framed differently by a proxy, so none are read.
      reply.header('connection', 'close');
      throw rejection(request, 'validation_failed', smuggling);
    }

    const route = request.routeOptions.url;
    const userAgent = request.headers['user-agent'];
    if (!(route && PROBE_ROUTES.has(route)) && !USER_AGENT_PATTERN.test(userAgent ?? '')) {
      reportBlock(onBlock, request, 'user_agent', 'header:user-agent', userAgent ?? null);
      throw rejection(
        request,
        'validation_failed',
        userAgent === undefined
          ? 'The User-Agent header is missing: send one that names the client'
          : 'The User-Agent header is malformed: use 1 to 512 printable ASCII characters',
      );
    }

    // request.host follows X-Forwarded-Host only when the peer is in TRUSTED_PROXIES.
    if (config.ALLOWED_HOSTS && !isAllowedHost(request.host, config.ALLOWED_HOSTS)) {
      reportBlock(onBlock, request, 'host', 'header:host', request.host);
      throw rejection(request, 'validation_failed', 'The Host header names a host not served here');
    }
  });

  // A rejected request may still be sending its body. Closing the connection after the error
  // stops the upload instead of reading and discarding the rest of it.
  app.addHook('onSend', async (request, reply) => {
    // Fastify itself rejects a body over the route's limit, so it is reported here.
    if (reply.statusCode === 413) reportBlock(onBlock, request, 'body_size');
    if (reply.statusCode === 413 || reply.statusCode === 431) reply.header('connection', 'close');
  });
}
