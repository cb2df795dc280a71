import type { FastifyBaseLogger, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Redis } from 'ioredis';

import type { Config } from '../config/config.schema.js';
import { GatewayError } from '../gateway/gateway-error.js';
import { AppError, errorBody } from '../http/errors.js';
import { challengeTrigger } from './challenge/challenge-gate.js';
import { loadChallengeKeys } from './challenge/challenge-keys.js';
import { CHALLENGE_ROUTES, registerChallengeRoutes } from './challenge/challenge.routes.js';
import { ChallengeService, PASS_HEADER, type PassCheck } from './challenge/challenge.service.js';
import {
  MemorySpentChallenges,
  RedisSpentChallenges,
  type SpentChallenges,
} from './challenge/spent-challenges.js';
import { GeoBlocking } from './geo/geo-blocking.js';
import { parseClientIp } from './ip-address.js';
import type { PerimeterBlock, PerimeterBlockListener } from './perimeter-block.js';
import { isGatewayRequest } from './rate-limit/rate-limit.http.js';
import { TorExits } from './tor/tor-exits.js';

// Used challenge ids kept in memory without Redis; at most one entry per solved challenge
// within the five minutes a challenge lives.
const MEMORY_SPENT_MAX_ENTRIES = 100_000;

/** Paths of the challenge routes and the pass header, sent with `challenge_required`. */
const CHALLENGE_HINT = {
  url: CHALLENGE_ROUTES.issue,
  verifyUrl: CHALLENGE_ROUTES.verify,
  passHeader: PASS_HEADER,
};

const PASS_MESSAGES: Record<Exclude<PassCheck, 'valid'>, string | undefined> = {
  missing: undefined,
  invalid: `The ${PASS_HEADER} pass is not valid: solve a new challenge from POST /challenge`,
  expired: `The ${PASS_HEADER} pass has expired: solve a new challenge from POST /challenge`,
  'other-address':
    `The ${PASS_HEADER} pass was issued to another client address: ` +
    'solve a new challenge from POST /challenge',
};

/** A request turned away, with what is reported about it. */
interface Rejection {
  code: 'geo_blocked' | 'tor_blocked' | 'challenge_required';
  message?: string;
  block: PerimeterBlock;
}

export interface AccessRulesOptions {
  config: Config;
  logger: FastifyBaseLogger;
  /** Shares used challenge ids between processes; without it they stay in this process. */
  redis: Redis | null;
  /** Called with every request that geo, Tor or challenge rules turn away. */
  onBlock?: PerimeterBlockListener;
}

function block(source: PerimeterBlock['source'], ruleId: string): PerimeterBlock {
  return { source, ruleIds: [ruleId], location: null, sample: null };
}

/** Sends the rejection in the admin envelope, or throws it in the gateway's provider shape. */
async function reject(request: FastifyRequest, reply: FastifyReply, rejection: Rejection) {
  if (isGatewayRequest(request)) throw new GatewayError(rejection.code, rejection.message);
  const body = errorBody(new AppError(rejection.code, rejection.message), request.id);
  const hint = rejection.code === 'challenge_required' ? { challenge: CHALLENGE_HINT } : {};
  return reply.code(403).send({ ...body, ...hint });
}

/** The loaded lists and the challenge service that the access rules consult. */
interface AccessChecks {
  geo: GeoBlocking | null;
  tor: TorExits | null;
  challenges: ChallengeService;
  challengeBots: boolean;
}

async function openAccessChecks(options: AccessRulesOptions): Promise<AccessChecks> {
  const { config, logger, redis } = options;
  const geo = await GeoBlocking.open(config, logger);
  try {
    const tor = await TorExits.open(config, logger);
    const spent: SpentChallenges = redis
      ? new RedisSpentChallenges(redis, config.CHALLENGE_REDIS_PREFIX)
      : new MemorySpentChallenges(MEMORY_SPENT_MAX_ENTRIES);
    const challenges = new ChallengeService(await loadChallengeKeys(config), spent, {
      difficulty: config.CHALLENGE_DIFFICULTY,
      passTtlMs: config.CHALLENGE_PASS_TTL_SECONDS * 1000,
    });
    return { geo, tor, challenges, challengeBots: config.BOT_ACTION === 'challenge' };
  } catch (error) {
    geo?.stop();
    throw error;
  }
}

/**
 * Returns the rejection of the request, or null when it may pass. Geo blocking is checked
 * first, then the Tor block, then the challenge.
 */
function decide(checks: AccessChecks, request: FastifyRequest): Rejection | null {
  const { geo, tor, challenges } = checks;
  const address = parseClientIp(request.ip);
  const geoRule = geo?.blockingRule(address) ?? null;
  if (geoRule) return { code: 'geo_blocked', block: block('geo', geoRule) };
  const fromTor = tor?.isExit(address) ?? false;
  if (fromTor && tor?.action === 'block') {
    return { code: 'tor_blocked', block: block('tor', 'tor:exit') };
  }
  const trigger = challengeTrigger(request, fromTor, checks.challengeBots);
  if (trigger === null) return null;
  const passCheck = challenges.checkPass(address, request.headers[PASS_HEADER]);
  if (passCheck === 'valid') return null;
  const rejection: Rejection = {
    code: 'challenge_required',
    message: PASS_MESSAGES[passCheck],
    block: block('challenge', trigger),
  };
  if (trigger === 'bot:user-agent') {
    rejection.block.location = 'header:user-agent';
    rejection.block.sample = request.headers['user-agent'] ?? null;
  }
  return rejection;
}

/**
 * Adds geo blocking, the Tor exit rules and the proof-of-work challenge in front of every
 * route, and the challenge routes. Run it after the request limits and before the WAF: these
 * checks need only the client address and headers. The client address is `request.ip`, which
 * follows X-Forwarded-For only from TRUSTED_PROXIES.
 *
 * @throws ConfigError when a geo or Tor setting or list file is invalid.
 */
export async function registerAccessRules(
  app: FastifyInstance,
  options: AccessRulesOptions,
): Promise<void> {
  const checks = await openAccessChecks(options);
  app.addHook('onClose', async () => {
    checks.geo?.stop();
    checks.tor?.stop();
  });

  app.addHook('onRequest', async (request, reply) => {
    const rejection = decide(checks, request);
    if (rejection === null) return;
    request.log.info(
      { perimeter: { source: rejection.block.source, rules: rejection.block.ruleIds } },
      `request rejected: ${rejection.code}`,
    );
    options.onBlock?.(request, rejection.block);
    return reject(request, reply, rejection);
  });

  registerChallengeRoutes(app, checks.challenges, options.onBlock);
}
