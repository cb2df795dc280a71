import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { IPv6 } from 'ipaddr.js';

import { GatewayError } from '../../gateway/gateway-error.js';
import { AppError } from '../../http/errors.js';
import { parseClientIp } from '../ip-address.js';
import type { PerimeterBlockListener } from '../perimeter-block.js';
import { ruleForKey } from './key-limit.js';
import type { LimitCheck, RateLimiter } from './rate-limiter.js';
import type { RateLimitDecision } from './sliding-window.js';
import { TokenReservation } from './token-reservation.js';

/** Returns true for the gateway's provider routes, whose errors use the provider's shape. */
export function isGatewayRequest(request: FastifyRequest): boolean {
  const route = request.routeOptions.url;
  return route !== undefined && route.startsWith('/v1/');
}

// Probes stay answerable while the store is down, so an orchestrator does not restart
// processes that a Redis outage would not cure. They still count against the IP limit.
const PROBE_ROUTES = new Set(['/healthz', '/readyz']);

/**
 * Returns the client a limit counts: an IPv4 address, or the /64 of an IPv6 address, because one
 * IPv6 client usually controls a whole /64 and would otherwise get a fresh limit per address.
 */
function clientKey(ip: string): string {
  const address = parseClientIp(ip);
  if (!address) return ip;
  if (address.kind() === 'ipv4') return address.toString();
  const prefix = (address as IPv6).parts.slice(0, 4).map((part) => part.toString(16));
  return `${prefix.join(':')}::/64`;
}

/** Returns true for `/api/v1/auth` and every route below it. */
function isAuthRequest(request: FastifyRequest): boolean {
  const path = request.routeOptions.url ?? request.url.split('?')[0] ?? '';
  return path === '/api/v1/auth' || path.startsWith('/api/v1/auth/');
}

/** Sets the IETF draft RateLimit-Limit, -Remaining and -Reset headers, and Retry-After. */
export function setRateLimitHeaders(reply: FastifyReply, decision: RateLimitDecision): void {
  reply.header('ratelimit-limit', String(decision.limit));
  reply.header('ratelimit-remaining', String(decision.remaining));
  reply.header('ratelimit-reset', String(decision.resetSeconds));
  if (!decision.allowed) reply.header('retry-after', String(decision.retryAfterSeconds));
}

/** Builds the error for a failed check, in the admin envelope or the gateway's provider shape. */
function limitError(
  gateway: boolean,
  code: 'rate_limited' | 'service_unavailable',
  message: string,
  retryAfterSeconds?: number,
): Error {
  return gateway ? new GatewayError(code, message, retryAfterSeconds) : new AppError(code, message);
}

/** Reports a check that rejected the request as over its limit to `onBlock`. */
function reportRejection(
  onBlock: PerimeterBlockListener | undefined,
  request: FastifyRequest,
  check: LimitCheck,
  ruleName: string,
): void {
  if (!onBlock || check.kind !== 'decided' || check.decision.allowed) return;
  onBlock(request, {
    source: 'rate_limit',
    ruleIds: [`rate_limit:${ruleName}`],
    location: null,
    sample: null,
  });
}

/**
 * Throws when `check` rejects the request: 429 `rate_limited` with Retry-After when over the
 * limit, 503 `service_unavailable` when the store is unreachable and the rule fails closed.
 */
function enforce(request: FastifyRequest, reply: FastifyReply, check: LimitCheck, what: string) {
  const gateway = isGatewayRequest(request);
  if (check.kind === 'unavailable') {
    throw limitError(
      gateway,
      'service_unavailable',
      `The rate-limit store is unreachable, so ${what} requests are refused; try again shortly`,
    );
  }
  if (check.kind !== 'decided') return;
  setRateLimitHeaders(reply, check.decision);
  if (!check.decision.allowed) {
    const retry = check.decision.retryAfterSeconds;
    throw limitError(
      gateway,
      'rate_limited',
      `Too many ${what} requests; retry after ${retry} seconds`,
      retry,
    );
  }
}

// Gateway routes whose handler awaits the per-IP check in `GatewayRateLimits.checkKeyRequest`,
// and whose errors pass through `ipLimitRejection`. Only these may defer the check.
const DEFERRED_IP_ROUTES = new Set(['/v1/messages', '/v1/chat/completions', '/v1/models']);

/**
 * A per-IP check started at onRequest and applied later. `result` is set once the store has
 * decided, and `rejection` once the decision was applied to the reply (null when it allows).
 */
interface PendingIpCheck {
  readonly promise: Promise<LimitCheck>;
  result: LimitCheck | null;
  rejection: Promise<Error | null> | null;
}

const pendingIpChecks = new WeakMap<FastifyRequest, PendingIpCheck>();

/**
 * Starts the per-IP check of a gateway request without waiting for the store. The promise
 * never rejects, so a request that ends before the check is awaited leaves no unhandled
 * rejection, and a blocked request is reported to `onBlock` even then.
 */
function startIpCheck(
  limiter: RateLimiter,
  request: FastifyRequest,
  ip: string,
  onBlock: PerimeterBlockListener | undefined,
): void {
  const pending: PendingIpCheck = {
    promise: limiter
      .check(limiter.rules.perIp, ip)
      .catch((error: unknown): LimitCheck => {
        // The limiter turns store failures into `unavailable`, so only a bug ends up here.
        // It fails closed like a store failure.
        request.log.error({ err: error }, 'per-IP rate-limit check failed');
        return { kind: 'unavailable' };
      })
      .then((check) => {
        pending.result = check;
        try {
          reportRejection(onBlock, request, check, limiter.rules.perIp.name);
        } catch (error) {
          request.log.error({ err: error }, 'reporting a per-IP rate-limit rejection failed');
        }
        return check;
      }),
    result: null,
    rejection: null,
  };
  pendingIpChecks.set(request, pending);
}

/** Sets the headers of a per-IP decision and returns the error to send when it rejects. */
function applyIpCheck(request: FastifyRequest, reply: FastifyReply, check: LimitCheck) {
  try {
    enforce(request, reply, check, 'client');
    return null;
  } catch (error) {
    return error as Error;
  }
}

/** Throws the rejection of a pending per-IP check once its decision has arrived. */
function enforceSettledIpCheck(request: FastifyRequest, reply: FastifyReply): void {
  const pending = pendingIpChecks.get(request);
  if (!pending?.result || pending.rejection) return;
  const rejection = applyIpCheck(request, reply, pending.result);
  pending.rejection = Promise.resolve(rejection);
  if (rejection) throw rejection;
}

/**
 * Waits for the request's pending per-IP check and returns the error to send when it rejects
 * the request, or null when it allows it or the request has no pending check. The decision is
 * applied to the reply once, and every caller gets the same result.
 */
export function ipLimitRejection(
  request: FastifyRequest,
  reply: FastifyReply,
): Promise<Error | null> {
  const pending = pendingIpChecks.get(request);
  if (!pending) return Promise.resolve(null);
  pending.rejection ??= pending.promise.then((check) => applyIpCheck(request, reply, check));
  return pending.rejection;
}

/**
 * Adds the per-client-IP limit on every route and the tighter limit on `/api/v1/auth/*`.
 * Sign-in routes fail closed when the store is unreachable, whatever the failure mode.
 * The IP is `request.ip`, which honours X-Forwarded-For only from TRUSTED_PROXIES, and an
 * IPv6 client is counted by its /64. Requests over a limit are reported to `onBlock`.
 *
 * On the gateway's call routes the per-IP check is sent at onRequest but not awaited there:
 * the handler awaits it together with the per-key check, so a call waits for one store round
 * trip instead of two. The request is counted at onRequest all the same. A decision that has
 * arrived by preValidation or preHandler is enforced there, before the body is inspected or
 * the key looked up. The gateway's error handler awaits it through `ipLimitRejection`, and an
 * onSend hook awaits it for responses sent by other hooks, so a request over the IP limit
 * gets 429 even when it also fails authentication or the WAF.
 */
export function registerRateLimits(
  app: FastifyInstance,
  limiter: RateLimiter,
  onBlock?: PerimeterBlockListener,
): void {
  app.addHook('onRequest', async (request, reply) => {
    const ip = clientKey(request.ip);
    const route = request.routeOptions.url ?? '';
    if (DEFERRED_IP_ROUTES.has(route) && limiter.rules.perIp.limit !== 0) {
      startIpCheck(limiter, request, ip, onBlock);
      return;
    }
    const check = await limiter.check(limiter.rules.perIp, ip);
    const probe = PROBE_ROUTES.has(route);
    reportRejection(onBlock, request, check, limiter.rules.perIp.name);
    if (!(probe && check.kind === 'unavailable')) enforce(request, reply, check, 'client');
    if (isAuthRequest(request)) {
      const authCheck = await limiter.check(limiter.rules.auth, ip, 1, { failClosed: true });
      reportRejection(onBlock, request, authCheck, limiter.rules.auth.name);
      enforce(request, reply, authCheck, 'authentication');
    }
  });
  app.addHook('preValidation', async (request, reply) => enforceSettledIpCheck(request, reply));
  app.addHook('preHandler', async (request, reply) => enforceSettledIpCheck(request, reply));
  // A response sent without the handler or the error handler, such as the WAF's 403, waits
  // here for the per-IP decision. Throwing hands the request to the route's error handler,
  // which sends the rejection (429, or 503 with the store down) in place of that response.
  app.addHook('onSend', async (request, reply, payload) => {
    const pending = pendingIpChecks.get(request);
    if (!pending || pending.rejection) return payload;
    const rejection = await ipLimitRejection(request, reply);
    if (rejection) throw rejection;
    return payload;
  });
}

/**
 * The gateway's per-API-key limits: requests per window and tokens per window. Requests over
 * either limit are reported to `onBlock`.
 */
export class GatewayRateLimits {
  constructor(
    private readonly limiter: RateLimiter,
    private readonly onBlock?: PerimeterBlockListener,
  ) {}

  /**
   * Counts one request against the key's request limit, and awaits the request's pending
   * per-IP check alongside. Throws a GatewayError when either rejects the request, the per-IP
   * rejection first. A request the IP limit rejects is taken back off the key's count.
   */
  async checkKeyRequest(request: FastifyRequest, reply: FastifyReply, keyId: string) {
    const rule = ruleForKey(this.limiter.rules.keyRequests, request.gatewayGrant?.requestLimit);
    const [ipRejection, check] = await Promise.all([
      ipLimitRejection(request, reply),
      this.limiter.check(rule, keyId),
    ]);
    if (ipRejection) {
      if (check.kind === 'decided' && check.decision.allowed) {
        await this.limiter.adjust(check.store, rule, keyId, check.window, -1);
      }
      throw ipRejection;
    }
    reportRejection(this.onBlock, request, check, this.limiter.rules.keyRequests.name);
    enforce(request, reply, check, 'API key');
  }

  /**
   * Reserves `tokens` against the key's token limit before the upstream call; throws a
   * GatewayError when the reservation does not fit.
   */
  async reserveTokens(
    reply: FastifyReply,
    keyId: string,
    tokens: number,
  ): Promise<TokenReservation> {
    const rule = ruleForKey(this.limiter.rules.keyTokens, reply.request.gatewayGrant?.tokenLimit);
    const reservation = new TokenReservation(this.limiter, rule, keyId);
    const check = await reservation.ensure(tokens);
    reportRejection(this.onBlock, reply.request, check, this.limiter.rules.keyTokens.name);
    if (check.kind === 'unavailable') {
      throw new GatewayError(
        'service_unavailable',
        'The rate-limit store is unreachable, so token limits cannot be checked; try again shortly',
      );
    }
    if (check.kind === 'decided' && !check.decision.allowed) {
      const retry = check.decision.retryAfterSeconds;
      reply.header('retry-after', String(retry));
      throw new GatewayError(
        'rate_limited',
        `This API key's token limit (${check.decision.limit} tokens per window) has ` +
          `${check.decision.remaining} tokens left, fewer than max_tokens ${tokens}; ` +
          `retry after ${retry} seconds`,
        retry,
      );
    }
    return reservation;
  }
}
