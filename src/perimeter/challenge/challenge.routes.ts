import type { FastifyInstance, FastifyRequest } from 'fastify';

import { AppError } from '../../http/errors.js';
import { parseOrThrow } from '../../http/validation.js';
import { parseClientIp, type IpAddress } from '../ip-address.js';
import type { PerimeterBlockListener } from '../perimeter-block.js';
import { issueChallengeSchema, verifyChallengeSchema } from './challenge.schema.js';
import { PASS_HEADER, type ChallengeService, type VerifyFailure } from './challenge.service.js';

/** Paths of the routes that issue challenges and accept solutions. */
export const CHALLENGE_ROUTES = { issue: '/challenge', verify: '/challenge/verify' } as const;

const FAILURE_MESSAGES: Record<Exclude<VerifyFailure, 'unavailable'>, string> = {
  invalid: 'The challenge is not one this server issued: request a new one from POST /challenge',
  expired: 'The challenge has expired: request a new one from POST /challenge',
  'other-address': 'The challenge was issued to another client address: request a new one',
  'insufficient-work': 'The nonce does not give the required leading zero bits',
  replayed: 'The challenge was already solved: request a new one from POST /challenge',
};

function clientAddress(request: FastifyRequest): IpAddress {
  const address = parseClientIp(request.ip);
  if (address === null) {
    throw new AppError('challenge_failed', 'The client address could not be determined');
  }
  return address;
}

/**
 * Adds `POST /challenge`, which issues a proof-of-work challenge bound to the client address,
 * and `POST /challenge/verify`, which takes a solution and returns a pass. Both are public.
 * Rejected solutions are reported to `onBlock` with the rule id `challenge:<reason>`.
 */
export function registerChallengeRoutes(
  app: FastifyInstance,
  challenges: ChallengeService,
  onBlock?: PerimeterBlockListener,
): void {
  app.post(
    CHALLENGE_ROUTES.issue,
    { config: { security: { auth: 'public' } } },
    async (request) => {
      parseOrThrow(issueChallengeSchema, request.body ?? {});
      const issued = challenges.issue(clientAddress(request));
      return {
        challenge: issued.challenge,
        algorithm: 'sha256',
        difficulty: issued.difficulty,
        expiresAt: issued.expiresAt.toISOString(),
        verifyUrl: CHALLENGE_ROUTES.verify,
      };
    },
  );

  app.post(
    CHALLENGE_ROUTES.verify,
    { config: { security: { auth: 'public' } } },
    async (request) => {
      const input = parseOrThrow(verifyChallengeSchema, request.body);
      const result = await challenges.verify(clientAddress(request), input.challenge, input.nonce);
      if (result.ok) {
        return {
          pass: result.pass,
          passHeader: PASS_HEADER,
          expiresAt: result.expiresAt.toISOString(),
        };
      }
      if (result.reason === 'unavailable') {
        request.log.error('challenge solution rejected: used challenges cannot be recorded');
        throw new AppError(
          'service_unavailable',
          'Used challenges cannot be recorded right now, so no solution is accepted; try again shortly',
        );
      }
      request.log.info(
        { perimeter: { rule: `challenge:${result.reason}` } },
        'challenge solution rejected',
      );
      onBlock?.(request, {
        source: 'challenge',
        ruleIds: [`challenge:${result.reason}`],
        location: null,
        sample: null,
      });
      throw new AppError('challenge_failed', FAILURE_MESSAGES[result.reason]);
    },
  );
}
