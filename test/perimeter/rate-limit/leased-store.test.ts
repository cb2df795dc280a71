import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import {
  LeasedRateLimitStore,
  type LeaseOptions,
} from '../../../src/perimeter/rate-limit/leased-store.js';
import {
  RedisRateLimitStore,
  type LeaseCounts,
} from '../../../src/perimeter/rate-limit/redis-store.js';
import type { WindowRule } from '../../../src/perimeter/rate-limit/sliding-window.js';
import { REDIS_URL, uniquePrefix } from './servers.js';

/** A Redis store that counts the commands it sends. */
class CountingRedisStore extends RedisRateLimitStore {
  consumes = 0;
  adjusts = 0;

  override consumeAndLease(
    rule: WindowRule,
    key: string,
    cost: number,
    lease: number,
  ): Promise<LeaseCounts> {
    this.consumes += 1;
    return super.consumeAndLease(rule, key, cost, lease);
  }

  override adjust(rule: WindowRule, key: string, window: number, delta: number): Promise<void> {
    this.adjusts += 1;
    return super.adjust(rule, key, window, delta);
  }
}

// An hour-long window, so that no test runs across a window boundary.
const HOUR = 3_600_000;
const RULE: WindowRule = { name: 'key', limit: 1000, windowMs: HOUR };

let redis: Redis;
const stores: LeasedRateLimitStore[] = [];

beforeAll(() => {
  redis = new Redis(REDIS_URL, { lazyConnect: false, maxRetriesPerRequest: 1 });
});

afterAll(async () => {
  for (const store of stores) await store.close();
  redis.disconnect();
});

interface Setup {
  prefix: string;
  clock: { offset: number };
}

/** Builds a leased store over its own counting Redis store; `clock.offset` moves local time. */
function leasedStore(setup: Setup, options: Partial<LeaseOptions> = {}) {
  const counting = new CountingRedisStore(redis, setup.prefix);
  const store = new LeasedRateLimitStore(counting, {
    percent: 1,
    rules: new Set(['key', 'ip', 'tokens']),
    lifetimeMs: 1000,
    maxLeases: 1000,
    now: () => performance.now() + setup.clock.offset,
    ...options,
  });
  stores.push(store);
  return { store, counting };
}

function newSetup(): Setup {
  return { prefix: uniquePrefix(), clock: { offset: 0 } };
}

/** Reads the units Redis counts in the current window of `key` for `rule`. */
async function countedInRedis(setup: Setup, rule: WindowRule, key: string): Promise<number> {
  const fields = await redis.hgetall(`${setup.prefix}${rule.name}:${rule.windowMs}:${key}`);
  return Object.values(fields).reduce((sum, value) => sum + Number(value), 0);
}

/** Waits until the background refills of a store have returned. */
const settle = () => new Promise((resolve) => setTimeout(resolve, 50));

describe('leased rate-limit store', () => {
  it('spends a lease without Redis calls', async () => {
    const setup = newSetup();
    const { store, counting } = leasedStore(setup);
    // The first check only counts; the second also leases 1% of 1000 = 10 units.
    await store.consume(RULE, 'k', 1);
    await store.consume(RULE, 'k', 1);
    expect(counting.consumes).toBe(2);
    expect(await countedInRedis(setup, RULE, 'k')).toBe(12);

    // Five of the ten leased units are spent before a refill is due.
    for (let i = 0; i < 5; i++) {
      const counts = await store.consume(RULE, 'k', 1);
      expect(counts.allowed).toBe(true);
    }
    expect(counting.consumes).toBe(2);
  });

  it('refills in the background at half', async () => {
    const setup = newSetup();
    const { store, counting } = leasedStore(setup);
    for (let i = 0; i < 8; i++) await store.consume(RULE, 'k', 1);
    // 2 checks in Redis, then units 3 to 8 from the lease: 4 left, under half, so one refill.
    await settle();
    expect(counting.consumes).toBe(3);
    expect(await countedInRedis(setup, RULE, 'k')).toBe(22);
  });

  it('gives unspent units back on close', async () => {
    const setup = newSetup();
    const { store } = leasedStore(setup);
    for (let i = 0; i < 3; i++) await store.consume(RULE, 'k', 1);
    await store.close();
    expect(await countedInRedis(setup, RULE, 'k')).toBe(3);
  });

  it('gives unspent units back after the lifetime', async () => {
    const setup = newSetup();
    const { store, counting } = leasedStore(setup, { lifetimeMs: 100 });
    await store.consume(RULE, 'k', 1);
    await store.consume(RULE, 'k', 1);
    expect(await countedInRedis(setup, RULE, 'k')).toBe(12);
    setup.clock.offset = 150;
    // The sweeper runs every 50 ms at this lifetime.
    await new Promise((resolve) => setTimeout(resolve, 120));
    expect(await countedInRedis(setup, RULE, 'k')).toBe(2);
    expect(counting.adjusts).toBe(1);
    expect(store.size).toBe(0);
  });

  it('spends no unit after the lease expired', async () => {
    const setup = newSetup();
    const { store, counting } = leasedStore(setup);
    await store.consume(RULE, 'k', 1);
    await store.consume(RULE, 'k', 1);
    setup.clock.offset = 5_000;
    const before = counting.consumes;
    await store.consume(RULE, 'k', 1);
    expect(counting.consumes).toBe(before + 1);
    // The expired lease gave its 10 units back; only the three checks stay counted.
    await settle();
    expect(await countedInRedis(setup, RULE, 'k')).toBe(3);
  });

  it('ends a lease before its window ends', async () => {
    const setup = newSetup();
    const shortRule: WindowRule = { name: 'key', limit: 1000, windowMs: 2000 };
    const { store, counting } = leasedStore(setup, { lifetimeMs: 60_000 });
    await store.consume(shortRule, 'k', 1);
    await store.consume(shortRule, 'k', 1);
    // Two seconds later the window that counted the lease has ended, whatever the lifetime.
    setup.clock.offset = 2_000;
    const before = counting.consumes;
    await store.consume(shortRule, 'k', 1);
    expect(counting.consumes).toBe(before + 1);
  });

  it('takes a refund back into the lease', async () => {
    const setup = newSetup();
    const tokens: WindowRule = { name: 'tokens', limit: 100_000, windowMs: HOUR };
    const { store, counting } = leasedStore(setup);
    await store.consume(tokens, 'k', 100);
    // 1% of 100,000 = 1,000 tokens leased with the second reservation.
    await store.consume(tokens, 'k', 100);
    const reserved = await store.consume(tokens, 'k', 400);
    expect(await countedInRedis(setup, tokens, 'k')).toBe(1200);

    // The lease has 600 left and room for 400 more, so the refund stays in memory.
    await store.adjust(tokens, 'k', reserved.window, -300);
    expect(counting.adjusts).toBe(0);
    const consumesBefore = counting.consumes;
    const next = await store.consume(tokens, 'k', 900);
    expect(next.allowed).toBe(true);
    // Spending the last 900 leaves nothing, so the only command is the background refill.
    expect(counting.consumes).toBe(consumesBefore + 1);
    await store.close();
    expect(await countedInRedis(setup, tokens, 'k')).toBe(100 + 100 + 400 - 300 + 900);
  });

  it('gives back a refund beyond the lease size', async () => {
    const setup = newSetup();
    const tokens: WindowRule = { name: 'tokens', limit: 100_000, windowMs: HOUR };
    const { store, counting } = leasedStore(setup);
    await store.consume(tokens, 'k', 100);
    await store.consume(tokens, 'k', 100);
    const reserved = await store.consume(tokens, 'k', 5000);
    await store.adjust(tokens, 'k', reserved.window, -4990);
    expect(counting.adjusts).toBe(1);
    await store.close();
    expect(await countedInRedis(setup, tokens, 'k')).toBe(100 + 100 + 10);
  });

  it('leaves rules outside its list to Redis', async () => {
    const setup = newSetup();
    const auth: WindowRule = { name: 'auth', limit: 1000, windowMs: HOUR };
    const { store, counting } = leasedStore(setup);
    for (let i = 0; i < 5; i++) await store.consume(auth, 'k', 1);
    expect(counting.consumes).toBe(5);
    expect(await countedInRedis(setup, auth, 'k')).toBe(5);
  });

  it('does not lease small limits', async () => {
    const setup = newSetup();
    const small: WindowRule = { name: 'key', limit: 150, windowMs: HOUR };
    const { store, counting } = leasedStore(setup);
    for (let i = 0; i < 5; i++) await store.consume(small, 'k', 1);
    expect(counting.consumes).toBe(5);
    expect(await countedInRedis(setup, small, 'k')).toBe(5);
  });

  it('keeps at most maxLeases keys', async () => {
    const setup = newSetup();
    const { store } = leasedStore(setup, { maxLeases: 3 });
    for (let i = 0; i < 6; i++) {
      await store.consume(RULE, `k${i}`, 1);
      await store.consume(RULE, `k${i}`, 1);
    }
    expect(store.size).toBe(3);
    // Keys past the cap are counted without a lease.
    expect(await countedInRedis(setup, RULE, 'k5')).toBe(2);
  });

  it('two processes never pass the limit', async () => {
    const setup = newSetup();
    const rule: WindowRule = { name: 'key', limit: 500, windowMs: HOUR };
    // 5% of 500: each process leases 25 units at a time.
    const first = leasedStore(setup, { percent: 5 }).store;
    const second = leasedStore(setup, { percent: 5 }).store;
    let allowed = 0;
    for (let round = 0; round < 15; round++) {
      const results = await Promise.all(
        Array.from({ length: 50 }, (_, i) => (i % 2 === 0 ? first : second).consume(rule, 'k', 1)),
      );
      allowed += results.filter((counts) => counts.allowed).length;
    }
    expect(allowed).toBeLessThanOrEqual(500);
    // Unspent leases can refuse at most one lease per process early.
    expect(allowed).toBeGreaterThanOrEqual(500 - 2 * 25);
    expect(await countedInRedis(setup, rule, 'k')).toBeLessThanOrEqual(500);
  });

  it('reports remaining units from the lease', async () => {
    const setup = newSetup();
    const { store } = leasedStore(setup);
    await store.consume(RULE, 'k', 1);
    await store.consume(RULE, 'k', 1);
    const counts = await store.consume(RULE, 'k', 1);
    // Three units spent before this one's view: two counted in Redis and none other.
    expect(counts.current).toBe(2);
    expect(counts.previous).toBe(0);
  });
});
