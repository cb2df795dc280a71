import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { newApiKey, REDIS_URL, startServerPair, uniquePrefix, type ServerPair } from './servers.js';

// One-second key windows with 10 % leases: each server leases 20 of the key's 200 requests.
const KEY_LIMIT = 200;
const LEASE = 20;
const RUN_MS = 4500;
const PARALLEL = 24;
const USER_AGENT = 'leased-short-windows-test';

let pair: ServerPair;
let stopped = false;
let redis: Redis;
const prefix = uniquePrefix();

beforeAll(async () => {
  redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
  pair = await startServerPair({
    RATE_LIMIT_REDIS_PREFIX: prefix,
    RATE_LIMIT_KEY_MAX: String(KEY_LIMIT),
    RATE_LIMIT_KEY_WINDOW_SECONDS: '1',
    RATE_LIMIT_IP_MAX: '1000000',
    RATE_LIMIT_REDIS_LEASE_PERCENT: '10',
  });
});

afterAll(async () => {
  if (!stopped) await pair?.stop();
  redis.disconnect();
});

/** Reads every window count of the key rule into `counted`, keeping the latest value. */
async function readCounts(counted: Map<number, number>): Promise<void> {
  const keys = await redis.keys(`${prefix}key:1000:*`);
  for (const key of keys) {
    const fields = await redis.hgetall(key);
    for (const [field, value] of Object.entries(fields)) counted.set(Number(field), +value);
  }
}

describe('leased key limit with one-second windows', () => {
  it('two servers pass no more than Redis counted', async () => {
    const apiKey = await newApiKey(pair.first);
    const counted = new Map<number, number>();
    const statuses: number[] = [];
    let running = true;

    const poller = (async () => {
      while (running) {
        await readCounts(counted);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    })();
    const client = async (url: string) => {
      while (running) {
        const response = await fetch(`${url}/v1/models`, {
          headers: { 'x-api-key': apiKey, 'user-agent': USER_AGENT },
        });
        statuses.push(response.status);
        await response.arrayBuffer();
      }
    };
    const clients = Array.from({ length: PARALLEL }, (_, i) => client(pair.urls[i % 2] ?? ''));
    await new Promise((resolve) => setTimeout(resolve, RUN_MS));
    running = false;
    await Promise.all(clients);
    await poller;
    // Stopping both servers gives their unspent units back.
    stopped = true;
    await pair.stop();
    await readCounts(counted);

    expect(statuses.filter((status) => status !== 200 && status !== 429)).toEqual([]);
    const passed = statuses.filter((status) => status === 200).length;
    const windows = [...counted.keys()].sort((a, b) => a - b);
    expect(windows.length).toBeGreaterThanOrEqual(4);
    for (const window of windows) {
      expect(counted.get(window), `window ${window}`).toBeLessThanOrEqual(KEY_LIMIT);
    }
    const totalCounted = windows.reduce((sum, window) => sum + (counted.get(window) ?? 0), 0);
    expect(passed).toBeLessThanOrEqual(totalCounted);
    // Every full window fills to the limit, less one lease and one refill per server, so the
    // run passes at least that many requests in each window it covered past the first.
    expect(passed).toBeGreaterThanOrEqual((windows.length - 2) * (KEY_LIMIT - 2 * 2 * LEASE));
  });
});
