import type { Redis } from 'ioredis';
import type { Logger } from 'pino';

import type { Config } from '../../config/config.schema.js';
import { LeasedRateLimitStore } from './leased-store.js';
import { MemoryRateLimitStore } from './memory-store.js';
import { RateLimiter, rateLimitRules } from './rate-limiter.js';
import { RedisRateLimitStore } from './redis-store.js';

// Milliseconds a process may spend units it leased from Redis before it gives the rest back.
const LEASE_LIFETIME_MS = 1000;

/**
 * Builds the rate limiter: Redis counters shared by every process when a Redis client is
 * given, else in-process memory counters. With Redis, a memory store backs the `open`
 * failure mode, and the per-IP, per-key request and token limits are leased to each process
 * in parts of RATE_LIMIT_REDIS_LEASE_PERCENT of the limit. The sign-in limit is never leased,
 * so it is checked in Redis on every request and fails closed as soon as Redis does.
 */
export function createRateLimiter(
  config: Config,
  logger: Logger,
  redis: Redis | null,
): RateLimiter {
  const memory = new MemoryRateLimitStore(config.RATE_LIMIT_MEMORY_MAX_KEYS);
  const rules = rateLimitRules(config);
  if (!redis) return new RateLimiter(rules, memory, null, 'closed', logger);
  const redisStore = new RedisRateLimitStore(redis, config.RATE_LIMIT_REDIS_PREFIX);
  const store =
    config.RATE_LIMIT_REDIS_LEASE_PERCENT === 0
      ? redisStore
      : new LeasedRateLimitStore(redisStore, {
          percent: config.RATE_LIMIT_REDIS_LEASE_PERCENT,
          rules: new Set([rules.perIp.name, rules.keyRequests.name, rules.keyTokens.name]),
          lifetimeMs: LEASE_LIFETIME_MS,
          maxLeases: config.RATE_LIMIT_MEMORY_MAX_KEYS,
        });
  return new RateLimiter(rules, store, memory, config.RATE_LIMIT_REDIS_FAILURE, logger);
}
