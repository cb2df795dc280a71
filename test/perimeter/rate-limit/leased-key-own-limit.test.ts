import { randomBytes } from 'node:crypto';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { generateApiKey } from '../../../src/tenancy/api-keys/api-key-secret.js';
import { insertApiKey } from '../../../src/tenancy/api-keys/api-key.repository.js';
import { startServerPair, type ServerPair } from './servers.js';

// The server allows 1,000 requests per key; the key below sets its own, lower limit. At 10 %
// each server leases 30 of the key's 300 requests at a time.
const SERVER_LIMIT = 1000;
const KEY_LIMIT = 300;
const KEY_LEASE = 30;
const USER_AGENT = 'leased-key-own-limit-test';

let pair: ServerPair;

beforeAll(async () => {
  pair = await startServerPair({
    RATE_LIMIT_KEY_MAX: String(SERVER_LIMIT),
    RATE_LIMIT_REDIS_LEASE_PERCENT: '10',
  });
});

afterAll(async () => {
  await pair?.stop();
});

/** Creates an API key with its own request limit for the bootstrapped project. */
async function keyWithLimit(requestLimit: number): Promise<string> {
  const generated = generateApiKey();
  await insertApiKey(pair.first.owner, {
    orgId: pair.first.boot.orgId,
    projectId: pair.first.boot.projectId,
    name: `own-limit-${randomBytes(4).toString('hex')}`,
    hash: generated.hash,
    prefix: generated.prefix,
    lastFour: generated.lastFour,
    createdBy: null,
    expiresAt: null,
    requestLimit,
  });
  return generated.secret;
}

describe('leased limit of a key with its own limit', () => {
  it('two servers stop at the key limit', async () => {
    const apiKey = await keyWithLimit(KEY_LIMIT);
    const statuses: number[] = [];
    for (let round = 0; round < 8; round++) {
      const responses = await Promise.all(
        Array.from({ length: 50 }, (_, i) =>
          fetch(`${pair.urls[i % 2]}/v1/models`, {
            headers: { 'x-api-key': apiKey, 'user-agent': USER_AGENT },
          }),
        ),
      );
      for (const response of responses) {
        statuses.push(response.status);
        await response.arrayBuffer();
      }
    }
    const passed = statuses.filter((status) => status === 200).length;
    expect(statuses.filter((status) => status !== 200 && status !== 429)).toEqual([]);
    expect(passed).toBeLessThanOrEqual(KEY_LIMIT);
    // Each server can hold one unspent lease and one refill when the limit is reached.
    expect(passed).toBeGreaterThanOrEqual(KEY_LIMIT - 2 * 2 * KEY_LEASE);
  });
});
