import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { GatewayCall } from '../../src/gateway/usage/gateway-call.js';
import {
  createUsageRecorder,
  type UsageRecorder,
  type UsageRecorderOptions,
} from '../../src/gateway/usage/usage-recorder.js';
import { gatewayCalls, requestIdsOf } from '../support/gateway-calls.js';
import { startTestServer, type TestServer } from '../support/test-server.js';

let t: TestServer;
const recorders: UsageRecorder[] = [];

beforeAll(async () => {
  t = await startTestServer();
});

afterAll(async () => {
  for (const recorder of recorders) await recorder.close();
  await t.stop();
});

// Far longer than any test: unless a test sets its own interval, only the call count or a
// flush starts a write.
const NEVER_MS = 600_000;

function recorder(options: UsageRecorderOptions): UsageRecorder {
  const created = createUsageRecorder(t.server.db, pino({ level: 'silent' }), {
    flushIntervalMs: NEVER_MS,
    ...options,
  });
  recorders.push(created);
  return created;
}

const calls = (count: number, overrides: Partial<GatewayCall> = {}) =>
  gatewayCalls(t.boot, count, overrides);

/** Counts the calls' rows that each transaction wrote, in the order of the transaction ids. */
async function rowsPerTransaction(batch: GatewayCall[]): Promise<number[]> {
  const { rows } = await t.owner.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM gateway_requests WHERE request_id = ANY($1::uuid[])
      GROUP BY xmin ORDER BY xmin::text::bigint`,
    [requestIdsOf(batch)],
  );
  return rows.map((row) => row.n);
}

async function storedCount(batch: GatewayCall[]): Promise<number> {
  const counts = await rowsPerTransaction(batch);
  return counts.reduce((sum, n) => sum + n, 0);
}

async function waitForStored(batch: GatewayCall[]): Promise<void> {
  const deadline = Date.now() + 10_000;
  while ((await storedCount(batch)) < batch.length) {
    if (Date.now() > deadline) throw new Error('the calls were not written within 10 s');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('call record batches', () => {
  it('start a write as soon as the call count is reached', async () => {
    const usage = recorder({ writeAfterCalls: 5 });
    const batch = calls(5);
    for (const call of batch) usage.record(call);
    await waitForStored(batch);
    expect(await rowsPerTransaction(batch)).toEqual([5]);
  });

  it('leave fewer calls for the interval or a flush', async () => {
    const usage = recorder({ writeAfterCalls: 5 });
    const batch = calls(4);
    for (const call of batch) usage.record(call);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await storedCount(batch)).toBe(0);
    await usage.flush();
    expect(await rowsPerTransaction(batch)).toEqual([4]);
  });

  it('write after the interval when the count is never reached', async () => {
    const usage = recorder({ writeAfterCalls: 100, flushIntervalMs: 50 });
    const batch = calls(3);
    for (const call of batch) usage.record(call);
    await waitForStored(batch);
    expect(await rowsPerTransaction(batch)).toEqual([3]);
  });

  it('put the calls that arrive during a write into the next batch', async () => {
    const usage = recorder({ writeAfterCalls: 5 });
    const first = calls(5);
    const during = calls(12);
    for (const call of first) usage.record(call);
    // The first batch's transaction is now waiting on the database.
    await new Promise((resolve) => setImmediate(resolve));
    for (const call of during) usage.record(call);
    await waitForStored([...first, ...during]);
    expect(await rowsPerTransaction(first)).toEqual([5]);
    expect(await rowsPerTransaction(during)).toEqual([12]);
  });

  it('split a backlog at the batch size', async () => {
    const usage = recorder({ writeAfterCalls: 4, batchSize: 4 });
    const batch = calls(10);
    for (const call of batch) usage.record(call);
    await waitForStored(batch.slice(0, 8));
    expect(await rowsPerTransaction(batch)).toEqual([4, 4]);
    await usage.flush();
    expect(await rowsPerTransaction(batch)).toEqual([4, 4, 2]);
  });

  it('store each call once with its audit entry', async () => {
    const usage = recorder({ writeAfterCalls: 3 });
    const batch = calls(20);
    for (const call of batch) usage.record(call);
    await usage.flush();
    expect(await storedCount(batch)).toBe(20);
    const { rows } = await t.owner.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM audit_logs
        WHERE action = 'gateway.request' AND request_id = ANY($1::uuid[])`,
      [requestIdsOf(batch)],
    );
    expect(rows[0]?.n).toBe(20);
  });
});
