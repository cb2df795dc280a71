import type { FastifyInstance, FastifyRequest } from 'fastify';

import type { Config } from '../../config/config.schema.js';
import { GatewayError } from '../../gateway/gateway-error.js';
import { AppError, errorBody } from '../../http/errors.js';
import { isGatewayRequest } from '../rate-limit/rate-limit.http.js';
import { createWafEngine, type WafEngine } from './index.js';
import { SECRET_FIELD_EXCLUSIONS } from './secret-fields.js';
import type { ParanoiaLevel, WafBodyKind, WafRequest, WafVerdict } from './types.js';
import { acceptUnparsedBodies, rejectUnparsedBodies, UnparsedBody } from './unparsed-body.js';

/** Routes whose bodies are LLM prompts: only protocol rules apply to their bodies. */
const PROMPT_ROUTES = new Set(['/v1/messages', '/v1/chat/completions']);

// Cookie headers larger than this are not split, but inspected whole as one cookie without a
// name, because the WAF skips the `cookie` header itself.
const MAX_COOKIE_HEADER = 16 * 1024;

function parseCookies(header: string | undefined): Record<string, string> {
  const cookies: Record<string, string> = {};
  if (!header) return cookies;
  if (header.length > MAX_COOKIE_HEADER) return { '': header };
  for (const part of header.split(';')) {
    const at = part.indexOf('=');
    if (at <= 0) continue;
    cookies[part.slice(0, at).trim()] = part.slice(at + 1).trim();
  }
  return cookies;
}

function bodyKind(request: FastifyRequest, routeId: string): WafBodyKind {
  if (request.body === undefined || request.body === null) return 'none';
  // No route accepts such a body, so it is never a prompt and every rule inspects it.
  if (request.body instanceof UnparsedBody) return 'admin';
  return PROMPT_ROUTES.has(routeId) ? 'prompt' : 'admin';
}

/**
 * The request as the WAF engine reads it: raw path and query, headers, cookies, and the body
 * as parsed JSON or as text. The engine splits text bodies by their Content-Type header.
 */
export function wafRequestOf(request: FastifyRequest): WafRequest {
  const url = request.raw.url ?? '/';
  const queryAt = url.indexOf('?');
  const routeId = request.routeOptions.url ?? 'not_found';
  const cookie = request.headers.cookie;
  return {
    method: request.method,
    path: queryAt === -1 ? url : url.slice(0, queryAt),
    rawQuery: queryAt === -1 ? '' : url.slice(queryAt + 1),
    headers: request.headers,
    cookies: parseCookies(typeof cookie === 'string' ? cookie : undefined),
    body: request.body instanceof UnparsedBody ? request.body.text : request.body,
    bodyKind: bodyKind(request, routeId),
    routeId,
  };
}

/** Listener called with every verdict that blocks, or would block in monitor mode. */
export type WafBlockListener = (request: FastifyRequest, verdict: WafVerdict) => void;

/**
 * Puts the WAF in front of every route and the 404 handler. It runs once the body is parsed and
 * before authentication, so hostile input is turned away before any credential check. Bodies
 * of media types no route accepts are read as text for the WAF, then rejected with 415 (404 on
 * an unknown path). A blocked request gets 403 with code `waf_blocked` and the
 * request id, and never an echo of the input. In `monitor` mode verdicts are logged but
 * nothing is blocked.
 */
export function registerWaf(
  app: FastifyInstance,
  config: Pick<Config, 'WAF_MODE' | 'WAF_PARANOIA_LEVEL' | 'WAF_ANOMALY_THRESHOLD'>,
  onBlock?: WafBlockListener,
  engine: WafEngine = createWafEngine({
    paranoiaLevel: config.WAF_PARANOIA_LEVEL as ParanoiaLevel,
    threshold: config.WAF_ANOMALY_THRESHOLD,
    exclusions: [...SECRET_FIELD_EXCLUSIONS],
  }),
): void {
  if (config.WAF_MODE === 'off') return;
  acceptUnparsedBodies(app);
  app.addHook('preValidation', async (request, reply) => {
    const verdict = engine.inspect(wafRequestOf(request));
    if (verdict.action !== 'block') return;
    request.log.warn(
      {
        waf: {
          mode: config.WAF_MODE,
          score: verdict.score,
          rules: verdict.matches.map((match) => match.ruleId),
          locations: verdict.matches.map((match) => match.location),
        },
      },
      config.WAF_MODE === 'block'
        ? 'request blocked by the WAF'
        : 'request would be blocked by the WAF',
    );
    onBlock?.(request, verdict);
    if (config.WAF_MODE !== 'block') return;
    // On gateway routes the error takes the shape of the provider API the client called.
    if (isGatewayRequest(request)) throw new GatewayError('waf_blocked');
    return reply.code(403).send(errorBody(new AppError('waf_blocked'), request.id));
  });
  rejectUnparsedBodies(app);
}
