import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { LeasedRateLimitStore } from '../../../src/perimeter/rate-limit/leased-store.js';
import { RedisRateLimitStore } from '../../../src/perimeter/rate-limit/redis-store.js';
import type { WindowRule } from '../../../src/perimeter/rate-limit/sliding-window.js';
import { REDIS_URL, uniquePrefix } from './servers.js';

// An hour-long window, so that the test never runs across a window boundary.
const TOKENS: WindowRule = { name: 'tokens', limit: 20_000, windowMs: 3_600_000 };
// 5 % of 20,000: each process leases 1,000 tokens at a time.
const PERCENT = 5;
const LEASE = (TOKENS.limit * PERCENT) / 100;

let redis: Redis;

beforeAll(() => {
  redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
});

afterAll(() => {
  redis.disconnect();
});

function leasedStore(prefix: string): LeasedRateLimitStore {
  return new LeasedRateLimitStore(new RedisRateLimitStore(redis, prefix), {
    percent: PERCENT,
    rules: new Set(['tokens']),
    lifetimeMs: 1000,
    maxLeases: 100,
  });
}

describe('leased store refunds', () => {
  it('holds at most a lease and a refill after a refund', async () => {
    const prefix = uniquePrefix();
    const first = leasedStore(prefix);
    const second = leasedStore(prefix);
    try {
      // The first process leases 1,000 tokens, then reserves 15,000 for one call, which the
      // provider settles at 10 tokens used.
      await first.consume(TOKENS, 'k', 500);
      await first.consume(TOKENS, 'k', 500);
      const reserved = await first.consume(TOKENS, 'k', 15_000);
      expect(reserved.allowed).toBe(true);
      await first.adjust(TOKENS, 'k', reserved.window, -(15_000 - 10));

      // Spent so far: 1,010 tokens. With one lease and one refill held by each process, the
      // second process must still get 20,000 - 1,010 - 4 x 1,000 tokens.
      const spent = 500 + 500 + 10;
      const room = TOKENS.limit - spent - 4 * LEASE;
      const counts = await second.consume(TOKENS, 'k', room);
      expect(counts.allowed).toBe(true);
    } finally {
      await first.close();
      await second.close();
    }
  });
});
