import { request } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import type { Queryable } from '../../src/data/database/database.js';
import { startTestServer, type TestServer } from '../support/test-server.js';

// A client that disconnects while its call is still being prepared (rate limits, provider key
// lookup) must not have the call made to the provider, and the call must still be recorded.
// The organization's provider key lookup is held up by a table lock, so the client is gone
// before the gateway reaches the provider.

let t: TestServer;

beforeEach(async () => {
  t = await startTestServer();
});

afterEach(async () => {
  await t?.stop();
});

/** Waits until a query of the server waits for the lock on organization_provider_keys. */
async function waitForBlockedLookup(owner: Queryable): Promise<boolean> {
  const deadline = Date.now() + 5000;
  while (Date.now() < deadline) {
    const { rows } = await owner.query<{ n: string }>(
      `SELECT count(*) AS n FROM pg_stat_activity
        WHERE datname = current_database() AND wait_event_type = 'Lock'
          AND query ILIKE '%organization_provider_keys%'`,
    );
    if (Number(rows[0]?.n) > 0) return true;
    await sleep(20);
  }
  return false;
}

async function recordedCalls(): Promise<{ status: number; error_code: string | null }[]> {
  const deadline = Date.now() + 5000;
  while (Date.now() < deadline) {
    const { rows } = await t.owner.query<{ status: number; error_code: string | null }>(
      'SELECT status, error_code FROM gateway_requests',
    );
    if (rows.length > 0) return rows;
    await sleep(50);
  }
  return [];
}

/** Sends a call, drops the connection while the provider key lookup waits, then unblocks it. */
async function dropWhilePreparing(stream: boolean): Promise<boolean> {
  return t.owner.transaction(async (tx) => {
    await tx.query('LOCK TABLE organization_provider_keys IN ACCESS EXCLUSIVE MODE');
    const req = request(`${t.url}/v1/messages`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-api-key': t.boot.apiKey,
        'anthropic-version': '2023-06-01',
        'user-agent': 'client-gone-test',
      },
    });
    req.on('error', () => undefined);
    req.end(
      JSON.stringify({
        model: 'claude-sonnet-4-5',
        max_tokens: 10,
        stream,
        messages: [{ role: 'user', content: 'a question nobody waits for' }],
      }),
    );
    const blocked = await waitForBlockedLookup(t.owner);
    req.destroy();
    // Gives the server time to see the closed connection before the lookup goes on.
    await sleep(300);
    return blocked;
  });
}

describe('client gone before the provider call', () => {
  it('plain call skips the provider', async () => {
    const blocked = await dropWhilePreparing(false);
    expect(blocked).toBe(true);

    const rows = await recordedCalls();

    expect(rows).toHaveLength(1);
    expect(rows[0]?.status).toBe(502);
    expect(t.fake.received).toHaveLength(0);
  });

  it('streamed call skips the provider', async () => {
    const blocked = await dropWhilePreparing(true);
    expect(blocked).toBe(true);

    const rows = await recordedCalls();

    expect(rows).toHaveLength(1);
    expect(rows[0]?.status).toBe(502);
    expect(t.fake.received).toHaveLength(0);
  });
});
