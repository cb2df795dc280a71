import type { Redis } from 'ioredis';
import type { Logger } from 'pino';

import type { Config } from '../../config/config.schema.js';
import { MemoryRateLimitStore } from './memory-store.js';
import { RateLimiter, rateLimitRules } from './rate-limiter.js';
import { RedisRateLimitStore } from './redis-store.js';

/**
 * Builds the rate limiter: Redis counters shared by every process when a Redis client is
 * given, else in-process memory counters. With Redis, a memory store backs the `open`
 * failure mode.
 */
export function createRateLimiter(
  config: Config,
  logger: Logger,
  redis: Redis | null,
): RateLimiter {
  const memory = new MemoryRateLimitStore(config.RATE_LIMIT_MEMORY_MAX_KEYS);
  const rules = rateLimitRules(config);
  if (!redis) return new RateLimiter(rules, memory, null, 'closed', logger);
  const store = new RedisRateLimitStore(redis, config.RATE_LIMIT_REDIS_PREFIX);
  return new RateLimiter(rules, store, memory, config.RATE_LIMIT_REDIS_FAILURE, logger);
}
