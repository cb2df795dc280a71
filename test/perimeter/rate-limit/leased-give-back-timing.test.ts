import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { LeasedRateLimitStore } from '../../../src/perimeter/rate-limit/leased-store.js';
import { RedisRateLimitStore } from '../../../src/perimeter/rate-limit/redis-store.js';
import type { WindowRule } from '../../../src/perimeter/rate-limit/sliding-window.js';
import { REDIS_URL, uniquePrefix } from './servers.js';

// An hour-long window, so the one-second lifetime is what ends the lease.
const RULE: WindowRule = { name: 'key', limit: 1000, windowMs: 3_600_000 };

let redis: Redis;

beforeAll(() => {
  redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
});

afterAll(() => {
  redis.disconnect();
});

describe('leased store give-back timing', () => {
  it('returns unspent units soon after one second', async () => {
    const prefix = uniquePrefix();
    // The lifetime the server uses (LEASE_LIFETIME_MS in create-rate-limiter.ts).
    const store = new LeasedRateLimitStore(new RedisRateLimitStore(redis, prefix), {
      percent: 10,
      rules: new Set(['key']),
      lifetimeMs: 1000,
      maxLeases: 100,
    });
    try {
      await store.consume(RULE, 'k', 1);
      await store.consume(RULE, 'k', 1);
      const storageKey = `${prefix}${RULE.name}:${RULE.windowMs}:k`;
      const countNow = async () =>
        Object.values(await redis.hgetall(storageKey)).reduce(
          (sum, value) => sum + Number(value),
          0,
        );
      // Two calls and a 100-unit lease.
      expect(await countNow()).toBe(102);

      // The sweeper runs every 100 ms, so the units are back within 1.1 s of the lease. The
      // extra 300 ms covers timers that run late on a busy machine.
      await new Promise((resolve) => setTimeout(resolve, 1400));
      expect(await countNow()).toBe(2);
    } finally {
      await store.close();
    }
  });
});
