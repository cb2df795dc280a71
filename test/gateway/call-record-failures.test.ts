import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';

import Anthropic from '@anthropic-ai/sdk';
import pg from 'pg';
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

beforeAll(async () => {
  t = await startTestServer();
});

afterAll(async () => {
  await t.owner.query('GRANT INSERT ON gateway_requests TO mindweave_app');
  await t.stop();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Lets the application role write call rows again, or stops it, as a lost grant would. */
async function allowCallRows(allowed: boolean): Promise<void> {
  await t.owner.query(
    allowed
      ? 'GRANT INSERT ON gateway_requests TO mindweave_app'
      : 'REVOKE INSERT ON gateway_requests FROM mindweave_app',
  );
}

async function rowCount(
  table: 'gateway_requests' | 'audit_logs',
  ids: (string | null)[],
): Promise<number> {
  const { rows } = await t.owner.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM ${table} WHERE request_id = ANY($1::uuid[])`,
    [ids],
  );
  return rows[0]?.n ?? 0;
}

async function waitFor(check: () => boolean | Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

/** Creates a recorder of the test's own and collects the messages it logs. */
function recorder(options: UsageRecorderOptions): { usage: UsageRecorder; messages: string[] } {
  const messages: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString('utf8').split('\n').filter(Boolean)) {
        messages.push(String((JSON.parse(line) as { msg?: unknown }).msg));
      }
      callback();
    },
  });
  const usage = createUsageRecorder(t.server.db, pino({ level: 'info' }, sink), options);
  return { usage, messages };
}

const calls = (count: number, overrides: Partial<GatewayCall> = {}) =>
  gatewayCalls(t.boot, count, overrides);

describe('call records while the database cannot take them', () => {
  it('keep answered calls, refuse new ones, and write them all once it can', async () => {
    const anthropic = new Anthropic({ apiKey: t.boot.apiKey, baseURL: t.url, maxRetries: 0 });
    const ask = () =>
      anthropic.messages
        .create({
          model: 'claude-sonnet-4-5',
          max_tokens: 5,
          messages: [{ role: 'user', content: 'hi' }],
        })
        .withResponse()
        .then(
          ({ response }) => ({ status: 200, id: response.headers.get('x-request-id') ?? '' }),
          (error: unknown) => ({ status: (error as { status?: number }).status, id: '' }),
        );
    await allowCallRows(false);
    let answered: { status: number | undefined; id: string }[];
    try {
      answered = await Promise.all([ask(), ask(), ask()]);
      expect(answered.map((call) => call.status)).toEqual([200, 200, 200]);
      // Several retries long: the records must still be waiting, not dropped.
      await sleep(1500);
      expect(t.server.usage.healthy()).toBe(false);
      expect((await ask()).status).toBe(503);
    } finally {
      await allowCallRows(true);
    }
    await waitFor(() => t.server.usage.healthy(), 'the recorder to recover');
    const ids = answered.map((call) => call.id);
    expect(await rowCount('gateway_requests', ids)).toBe(3);
    expect(await rowCount('audit_logs', ids)).toBe(3);
    expect((await ask()).status).toBe(200);
  });

  it('drop a call whose row the database rejects and write the others', async () => {
    const { usage, messages } = recorder({ writeAfterCalls: 5, flushIntervalMs: 10 });
    const good = calls(4);
    // A key that does not exist breaks the row's foreign key, as a key deleted meanwhile would.
    const [rejected] = calls(1, { apiKeyId: randomUUID() });
    for (const call of [...good.slice(0, 2), rejected as GatewayCall, ...good.slice(2)]) {
      usage.record(call);
    }
    await waitFor(
      () => messages.includes('dropping a gateway call record that the database rejects'),
      'the rejected call to be dropped',
    );
    expect(await rowCount('gateway_requests', requestIdsOf(good))).toBe(4);
    expect(await rowCount('gateway_requests', requestIdsOf([rejected as GatewayCall]))).toBe(0);
    expect(messages.filter((msg) => msg.startsWith('the database rejected'))).toHaveLength(4);
    expect(usage.healthy()).toBe(true);
    await usage.close();
  });

  it('report a write held up by a lock as unhealthy until it ends', async () => {
    const { usage } = recorder({ writeAfterCalls: 2, writeStallMs: 200 });
    const lockedCalls = calls(2);
    // Another session holds the log head's row lock, so the batch neither commits nor fails.
    const locker = new pg.Client({ connectionString: t.config.DATABASE_URL });
    await locker.connect();
    try {
      await locker.query('BEGIN');
      await locker.query(`SELECT log_id FROM audit_log_heads WHERE log_id = 'main' FOR UPDATE`);
      for (const call of lockedCalls) usage.record(call);
      await sleep(500);
      expect(usage.healthy()).toBe(false);
      await locker.query('COMMIT');
    } finally {
      await locker.end();
    }
    await waitFor(() => usage.healthy(), 'the held write to end');
    expect(await rowCount('gateway_requests', requestIdsOf(lockedCalls))).toBe(2);
    await usage.close();
  });

  it('keep trying at close until the wait ends', async () => {
    const { usage, messages } = recorder({ writeAfterCalls: 100, closeWaitMs: 4000 });
    const waiting = calls(2);
    await allowCallRows(false);
    try {
      for (const call of waiting) usage.record(call);
      await usage.flush();
      expect(usage.healthy()).toBe(false);
      const closing = usage.close();
      await sleep(300);
      await allowCallRows(true);
      await closing;
    } finally {
      await allowCallRows(true);
    }
    expect(await rowCount('gateway_requests', requestIdsOf(waiting))).toBe(2);
    expect(messages).not.toContain('stopping with gateway call records that could not be written');
  });

  it('log the calls still unwritten when the wait at close ends', async () => {
    const { usage, messages } = recorder({ writeAfterCalls: 100, closeWaitMs: 300 });
    const lost = calls(2);
    await allowCallRows(false);
    try {
      for (const call of lost) usage.record(call);
      await usage.close();
    } finally {
      await allowCallRows(true);
    }
    expect(messages).toContain('stopping with gateway call records that could not be written');
    expect(await rowCount('gateway_requests', requestIdsOf(lost))).toBe(0);
    expect(usage.healthy()).toBe(false);
  });
});
