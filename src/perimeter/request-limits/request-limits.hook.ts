import { isIPv6 } from 'node:net';

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
const SINGLE_HEADER_LENGTHS = new Set(SINGLE_HEADERS.map((name) => name.length));

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

/**
 * Returns the first of SINGLE_HEADERS that arrived on more than one header line, before Node
 * merged them, or undefined. One pass counts all of them. Only names as long as one of them are
 * lowercased, because lowercasing changes the length only of non-ASCII text (U+0130), whose
 * lowercase form is never one of these ASCII names.
 */
function repeatedSingleHeader(request: FastifyRequest): string | undefined {
  const raw = request.raw.rawHeaders;
  const counts = [0, 0, 0];
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i];
    if (name === undefined || !SINGLE_HEADER_LENGTHS.has(name.length)) continue;
    const index = SINGLE_HEADERS.indexOf(name.toLowerCase());
    if (index !== -1) counts[index] = (counts[index] ?? 0) + 1;
  }
  for (let index = 0; index < SINGLE_HEADERS.length; index += 1) {
    if ((counts[index] ?? 0) > 1) return SINGLE_HEADERS[index];
  }
  return undefined;
}

/**
 * Rejects the request shapes Node's parser still accepts but a proxy in front might read
 * differently. Node 20 already rejects Content-Length with Transfer-Encoding, a repeated
 * Content-Length and unknown codings with 400 before any hook runs.
 */
function smugglingProblem(request: FastifyRequest): string | null {
  const repeated = repeatedSingleHeader(request);
  if (repeated !== undefined) return `The ${repeated} header must appear only once`;
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

const HOST_LABEL_PATTERN = /^[a-z0-9_-]+$/;

/**
 * Returns true for a lowercase DNS name or IPv4 address: labels of letters, digits, `-` and `_`
 * separated by dots, up to 253 characters, and an optional trailing dot.
 */
function isHostName(name: string): boolean {
  const labels = (name.endsWith('.') ? name.slice(0, -1) : name).split('.');
  const length = labels.join('.').length;
  return length >= 1 && length <= 253 && labels.every((label) => HOST_LABEL_PATTERN.test(label));
}

/** A Host header split into its host and port, lowercase. `port` is null when none was sent. */
interface HostHeader {
  name: string;
  port: number | null;
}

/**
 * Parses a Host header value (`name`, `name:port`, `[IPv6]` or `[IPv6]:port`). Returns null for
 * anything else, such as a port that is not a decimal number from 1 to 65535, an empty port,
 * an IPv6 address without brackets, or characters no host name contains.
 */
export function parseHostHeader(value: string): HostHeader | null {
  const host = value.toLowerCase();
  let name: string;
  let rest: string;
  if (host.startsWith('[')) {
    const end = host.indexOf(']');
    if (end === -1 || !isIPv6(host.slice(1, end))) return null;
    name = host.slice(0, end + 1);
    rest = host.slice(end + 1);
  } else {
    const colon = host.indexOf(':');
    name = colon === -1 ? host : host.slice(0, colon);
    rest = colon === -1 ? '' : host.slice(colon);
    if (!isHostName(name)) return null;
  }
  if (rest === '') return { name, port: null };
  if (!/^:[0-9]{1,5}$/.test(rest)) return null;
  const port = Number(rest.slice(1));
  return port >= 1 && port <= 65_535 ? { name, port } : null;
}

/** Returns true when `host` matches an entry of `allowed`, either as `name:port` or as `name`. */
function isAllowedHost(host: HostHeader, allowed: readonly string[]): boolean {
  if (allowed.includes(host.name)) return true;
  return host.port !== null && allowed.includes(`${host.name}:${host.port}`);
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
    if (config.ALLOWED_HOSTS) {
      // Fastify returns '' for an HTTP/1.0 request without a Host header, which fails the check.
      const host = parseHostHeader(request.host);
      if (!host) {
        reportBlock(onBlock, request, 'host', 'header:host', request.host);
        throw rejection(
          request,
          'validation_failed',
          'The Host header is malformed: send a host name or IP address, optionally with a ' +
            'port from 1 to 65535',
        );
      }
      if (!isAllowedHost(host, config.ALLOWED_HOSTS)) {
        reportBlock(onBlock, request, 'host', 'header:host', request.host);
        throw rejection(
          request,
          'validation_failed',
          'The Host header names a host not served here',
        );
      }
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
