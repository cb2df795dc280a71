import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { LeasedRateLimitStore } from '../../../src/perimeter/rate-limit/leased-store.js';
import {
  RedisRateLimitStore,
  type LeaseCounts,
} from '../../../src/perimeter/rate-limit/redis-store.js';
import type { WindowRule } from '../../../src/perimeter/rate-limit/sliding-window.js';
import { REDIS_URL, uniquePrefix } from './servers.js';

// An hour-long window, so that only the lifetime ends a lease.
const RULE: WindowRule = { name: 'key', limit: 1000, windowMs: 3_600_000 };

/** A Redis store whose lease replies wait until the test releases them. */
class DelayedRedisStore extends RedisRateLimitStore {
  holdLeases = false;
  private readonly held: (() => void)[] = [];

  override async consumeAndLease(
    rule: WindowRule,
    key: string,
    cost: number,
    lease: number,
  ): Promise<LeaseCounts> {
    const counts = await super.consumeAndLease(rule, key, cost, lease);
    if (this.holdLeases && lease > 0) {
      await new Promise<void>((resolve) => this.held.push(resolve));
    }
    return counts;
  }

  /** Delivers every held reply. */
  releaseHeld(): void {
    for (const resolve of this.held.splice(0)) resolve();
  }

  get heldCount(): number {
    return this.held.length;
  }
}

let redis: Redis;

beforeAll(() => {
  redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
});

afterAll(() => {
  redis.disconnect();
});

async function countedInRedis(prefix: string, key: string): Promise<number> {
  const fields = await redis.hgetall(`${prefix}${RULE.name}:${RULE.windowMs}:${key}`);
  return Object.values(fields).reduce((sum, value) => sum + Number(value), 0);
}

const tick = () => new Promise((resolve) => setTimeout(resolve, 20));

describe('leased store refill races', () => {
  it('lease expiring during a refill leaks no unit', async () => {
    const prefix = uniquePrefix();
    const clock = { offset: 0 };
    const delayed = new DelayedRedisStore(redis, prefix);
    const store = new LeasedRateLimitStore(delayed, {
      percent: 10,
      rules: new Set(['key']),
      lifetimeMs: 1000,
      maxLeases: 100,
      now: () => performance.now() + clock.offset,
    });
    let spent = 0;
    const consume = async () => {
      const counts = await store.consume(RULE, 'k', 1);
      if (counts.allowed) spent += 1;
      return counts;
    };

    // Two checks in Redis lease 100 units, then 51 spends start a refill that is held.
    await consume();
    await consume();
    delayed.holdLeases = true;
    for (let i = 0; i < 51; i++) await consume();
    await tick();
    expect(delayed.heldCount).toBe(1);

    // The lease expires while its refill is in flight. The next check goes to Redis, and the
    // one after it starts a new lease, whose reply is held too.
    clock.offset += 5000;
    await consume();
    const leasing = consume();
    await tick();
    expect(delayed.heldCount).toBe(2);

    // Both leases land: the refill's units join whichever lease the key has by then.
    delayed.releaseHeld();
    await leasing;
    for (let i = 0; i < 30; i++) await consume();
    await tick();
    delayed.holdLeases = false;
    delayed.releaseHeld();
    await tick();

    await store.close();
    expect(await countedInRedis(prefix, 'k')).toBe(spent);
  });

  it('refund to an expired lease goes to Redis', async () => {
    const prefix = uniquePrefix();
    const clock = { offset: 0 };
    const store = new LeasedRateLimitStore(new RedisRateLimitStore(redis, prefix), {
      percent: 10,
      rules: new Set(['key']),
      lifetimeMs: 1000,
      maxLeases: 100,
      now: () => performance.now() + clock.offset,
    });
    await store.consume(RULE, 'k', 1);
    const leased = await store.consume(RULE, 'k', 1);
    const spent = await store.consume(RULE, 'k', 1);
    expect(spent.allowed).toBe(true);
    // Two checks and a 100-unit lease are counted.
    expect(await countedInRedis(prefix, 'k')).toBe(102);

    clock.offset += 5000;
    await store.adjust(RULE, 'k', leased.window, -1);
    // The refund went to Redis because the lease had expired.
    expect(await countedInRedis(prefix, 'k')).toBe(101);
    await store.close();
    expect(await countedInRedis(prefix, 'k')).toBe(2);
  });
});
