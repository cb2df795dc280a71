import { request } from 'node:http';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { startTestServer, type TestServer } from '../support/test-server.js';

let t: TestServer;

beforeAll(async () => {
  t = await startTestServer();
});

afterAll(async () => {
  await t.stop();
});

/** Opens a streamed call, waits for the first bytes, then drops the connection. */
function openAndDropStream(url: string, apiKey: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const body = JSON.stringify({
      model: 'claude-sonnet-4-5',
      max_tokens: 100,
      stream: true,
      messages: [{ role: 'user', content: 'tell me a long story' }],
    });
    const req = request(
      `${url}/v1/messages`,
      {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'x-api-key': apiKey,
          'anthropic-version': '2023-06-01',
          'user-agent': 'stream-abort-test',
        },
      },
      (res) => {
        res.once('data', (chunk: Buffer) => {
          req.destroy();
          resolve(chunk.toString('utf8'));
        });
      },
    );
    req.on('error', (error) => {
      if (!req.destroyed) reject(error);
    });
    req.end(body);
  });
}

describe('client disconnect mid-stream', () => {
  it('aborts the upstream request', async () => {
    t.fake.behavior = { kind: 'stall-stream' };
    const first = await openAndDropStream(t.url, t.boot.apiKey);
    expect(first).toContain('message_start');

    const deadline = Date.now() + 5000;
    while (t.fake.abortedStreams === 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(t.fake.abortedStreams).toBe(1);
  });

  it('records the call as client_disconnected', async () => {
    await t.server.app.ready();
    const deadline = Date.now() + 5000;
    let rows: { error_code: string | null }[] = [];
    while (rows.length === 0 && Date.now() < deadline) {
      rows = (
        await t.owner.query<{ error_code: string | null }>(
          'SELECT error_code FROM gateway_requests',
        )
      ).rows;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(rows).toEqual([{ error_code: 'client_disconnected' }]);
  });
});

/** Sends a non-streamed call and drops the connection once the provider has received it. */
async function dropPlainCall(url: string, apiKey: string, received: () => number): Promise<void> {
  const before = received();
  const req = request(`${url}/v1/messages`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'x-api-key': apiKey,
      'anthropic-version': '2023-06-01',
      'user-agent': 'stream-abort-test',
    },
  });
  req.on('error', () => undefined);
  req.end(
    JSON.stringify({
      model: 'claude-sonnet-4-5',
      max_tokens: 10,
      messages: [{ role: 'user', content: 'a slow question' }],
    }),
  );
  const deadline = Date.now() + 5000;
  while (received() === before && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  req.destroy();
}

describe('client disconnect mid-call, not streamed', () => {
  it('records the cancelled call', async () => {
    t.fake.behavior = { kind: 'delay', ms: 3000 };
    const countRows = async () =>
      Number(
        (await t.owner.query<{ n: string }>('SELECT count(*) AS n FROM gateway_requests')).rows[0]
          ?.n,
      );
    const rowsBefore = await countRows();
    await dropPlainCall(t.url, t.boot.apiKey, () => t.fake.received.length);

    const deadline = Date.now() + 10_000;
    let rows: { status: number; error_code: string | null }[] = [];
    while (rows.length === 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      rows = (
        await t.owner.query<{ status: number; error_code: string | null }>(
          'SELECT status, error_code FROM gateway_requests ORDER BY created_at OFFSET $1',
          [rowsBefore],
        )
      ).rows;
    }
    // The upstream call is aborted, and the gateway records that as an unreachable provider.
    expect(rows).toEqual([{ status: 502, error_code: 'upstream_unreachable' }]);
  });

  it('serves the next call normally', async () => {
    t.fake.behavior = { kind: 'normal' };
    const response = await fetch(`${t.url}/v1/messages`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-api-key': t.boot.apiKey,
        'anthropic-version': '2023-06-01',
      },
      body: JSON.stringify({
        model: 'claude-sonnet-4-5',
        max_tokens: 10,
        messages: [{ role: 'user', content: 'hi' }],
      }),
    });
    expect(response.status).toBe(200);
    const body = (await response.json()) as { type?: string };
    expect(body.type).toBe('message');
  });
});
