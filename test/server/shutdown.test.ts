import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { loadConfig } from '../../src/config/load-config.js';
import { migrate } from '../../src/data/database/migrate.js';
import { openDatabase } from '../../src/data/database/open-database.js';
import { bootstrap, type BootstrapResult } from '../../src/tenancy/bootstrap.service.js';
import {
  ensureBuilt,
  killRunningProcesses,
  startServe,
  type ServeProcess,
} from '../cli/cli-process.js';
import { FakeProvider } from '../support/fake-provider.js';
import { createTestDatabase, type TestDatabase } from '../support/test-database.js';
import { PROVIDER_KEYS, TEST_MODELS } from '../support/test-server.js';

let database: TestDatabase;
let fake: FakeProvider;
let fakeUrl: string;
let boot: BootstrapResult;
let serve: ServeProcess | undefined;

beforeAll(async () => {
  await ensureBuilt();
  fake = new FakeProvider();
  fakeUrl = await fake.start();
  database = await createTestDatabase();
  const db = await openDatabase(loadConfig({ DATABASE_URL: database.url }), 'test setup');
  try {
    await migrate(db);
    boot = await bootstrap(db, {
      orgName: 'Acme',
      projectSlug: 'demo',
      adminEmail: 'owner@example.com',
      adminName: 'Olivia Owner',
      allowedModels: TEST_MODELS,
    });
  } finally {
    await db.close();
  }
}, 120_000);

afterAll(async () => {
  killRunningProcesses();
  await fake.stop();
  await database.drop();
});

describe('SIGTERM', { timeout: 90_000 }, () => {
  it('drains in-flight calls through repeated signals, then exits 0', async () => {
    serve = await startServe({
      DATABASE_URL: database.url,
      ANTHROPIC_BASE_URL: fakeUrl,
      ANTHROPIC_API_KEY: PROVIDER_KEYS.anthropic,
      SHUTDOWN_GRACE_MS: '10000',
    });
    fake.behavior = { kind: 'delay', ms: 1500 };

    const call = (url: string, stream: boolean) =>
      fetch(`${url}/v1/messages`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'x-api-key': boot.apiKey,
          'anthropic-version': '2023-06-01',
        },
        body: JSON.stringify({
          model: 'claude-sonnet-4-5',
          max_tokens: 5,
          stream,
          messages: [{ role: 'user', content: 'take your time' }],
        }),
      });

    const started = Date.now();
    const plain = call(serve.url, false);
    const streamed = call(serve.url, true);
    while (fake.received.length < 2) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    serve.child.kill('SIGTERM');
    // Repeated signals during the drain must not cut it short.
    await new Promise((resolve) => setTimeout(resolve, 200));
    serve.child.kill('SIGTERM');
    serve.child.kill('SIGINT');

    const plainResponse = await plain;
    const body = (await plainResponse.json()) as { content: { text: string }[] };
    expect(plainResponse.status).toBe(200);
    expect(body.content[0]?.text).toBe('Hello from the fake provider');
    expect(Date.now() - started).toBeGreaterThanOrEqual(1400);

    const streamedResponse = await streamed;
    expect(streamedResponse.status).toBe(200);
    expect(await streamedResponse.text()).toContain('event: message_stop');

    expect(await serve.exited).toBe(0);
    const messages = serve.logs.map((entry) => entry.msg);
    expect(messages).toContain('shutting down: draining in-flight requests');
    expect(
      messages.filter((msg) => msg === 'already shutting down; the signal is ignored'),
    ).toHaveLength(2);
    expect(messages.at(-1)).toBe('shutdown complete');
  });

  it('new connections are refused while draining', async () => {
    expect(serve).toBeDefined();
    const outcome = await fetch(`${serve?.url ?? ''}/healthz`).then(
      (response) => response.status,
      (error: unknown) => (error as { cause?: { code?: string } }).cause?.code,
    );
    expect(['ECONNREFUSED', 503]).toContain(outcome);
  });

  it('queued call records are written before exit', async () => {
    const db = await openDatabase(loadConfig({ DATABASE_URL: database.url }), 'test check');
    try {
      const calls = await db.query<{ status: number; model: string }>(
        'SELECT status, model FROM gateway_requests',
      );
      // Records name the snapshot that the alias resolved to.
      expect(calls.rows).toEqual([
        { status: 200, model: 'claude-sonnet-4-5-20250929' },
        { status: 200, model: 'claude-sonnet-4-5-20250929' },
      ]);
      const audit = await db.query(`SELECT 1 FROM audit_logs WHERE action = 'gateway.request'`);
      expect(audit.rows).toHaveLength(2);
    } finally {
      await db.close();
    }
  });
});
