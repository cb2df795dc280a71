import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';

import type { Config } from '../../src/config/config.schema.js';
import { loadConfig } from '../../src/config/load-config.js';
import type { Database } from '../../src/data/database/database.js';
import { migrate } from '../../src/data/database/migrate.js';
import { openDatabase } from '../../src/data/database/open-database.js';
import { openPostgresDatabase } from '../../src/data/database/postgres-database.js';
import { createLogger } from '../../src/monitoring/logging/logger.js';
import { startServer, type RunningServer } from '../../src/server/start-server.js';
import { bootstrap, type BootstrapResult } from '../../src/tenancy/bootstrap.service.js';
import { FakeProvider } from './fake-provider.js';
import { passwordPolicyExample } from './passwords.js';
import {
  captureServerResponses,
  recordAuditRows,
  recordLogLines,
  registerSecrets,
} from './secret-scan.js';
import { createTestDatabase, type TestDatabase } from './test-database.js';

/** Provider keys the gateway is configured with; tests check they reach the fake provider. */
export const PROVIDER_KEYS = {
  anthropic: 'sk-ant-provider-test-0123456789',
  openai: 'sk-openai-provider-test-0123456789',
};

export const TEST_MODELS = ['claude-sonnet-4-5', 'gpt-4o-mini'];

/** A running MindWeave with a bootstrapped tenant and a fake provider behind it. */
export interface TestServer {
  url: string;
  server: RunningServer;
  config: Config;
  fake: FakeProvider;
  boot: BootstrapResult;
  /**
   * The database as the migrating user, who owns the tables and is not subject to row-level
   * security: for tests that set up or inspect rows of any organization. `server.db` is the
   * application role. Embedded servers have none, because the server holds PGlite's only
   * connection, and every call on it fails.
   */
  owner: Database;
  /** Every log line the server wrote, as JSON text. */
  logLines: string[];
  stop(): Promise<void>;
}

export interface TestServerOptions {
  /** Use embedded PostgreSQL in a temporary folder instead of the real server. */
  embedded?: boolean;
  env?: Record<string, string>;
}

function noOwnerConnection(): Database {
  const fail = () => Promise.reject(new Error('an embedded test server has no owner connection'));
  return {
    kind: 'embedded',
    query: fail,
    transaction: fail,
    execScript: fail,
    withExclusiveLock: fail,
    close: () => Promise.resolve(),
  };
}

/** Starts MindWeave on a random loopback port, on a fresh database. */
export async function startTestServer(options: TestServerOptions = {}): Promise<TestServer> {
  const fake = new FakeProvider();
  const fakeUrl = await fake.start();
  const dataDir = await mkdtemp(join(tmpdir(), 'mindweave-test-'));
  const database: TestDatabase | null = options.embedded ? null : await createTestDatabase();

  const config = loadConfig({
    HOST: '127.0.0.1',
    PORT: '0',
    MINDWEAVE_DATA_DIR: dataDir,
    ...(database ? { DATABASE_URL: database.url } : {}),
    ANTHROPIC_BASE_URL: fakeUrl,
    ANTHROPIC_API_KEY: PROVIDER_KEYS.anthropic,
    OPENAI_BASE_URL: `${fakeUrl}/v1`,
    OPENAI_API_KEY: PROVIDER_KEYS.openai,
    LOG_LEVEL: 'info',
    // Test files send many requests from 127.0.0.1; tests of the limits set their own values.
    RATE_LIMIT_IP_MAX: '0',
    RATE_LIMIT_AUTH_MAX: '0',
    ...options.env,
  });

  const db = await openDatabase(config, 'test bootstrap');
  let boot: BootstrapResult;
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

  const logLines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      const lines = chunk.toString('utf8').split('\n').filter(Boolean);
      logLines.push(...lines);
      recordLogLines(lines);
      callback();
    },
  });
  const server = await startServer(config, createLogger(config.LOG_LEVEL, sink));
  captureServerResponses(server.app.server);
  registerSecrets(
    boot.adminPassword,
    boot.apiKey,
    passwordPolicyExample,
    ...Object.values(PROVIDER_KEYS),
  );
  const owner = database
    ? await openPostgresDatabase(database.url, { poolSize: 2 })
    : noOwnerConnection();

  return {
    url: server.url,
    server,
    config,
    fake,
    boot,
    owner,
    logLines,
    async stop() {
      await recordAuditRows(database ? database.url : server.db);
      await owner.close();
      await server.stop();
      await fake.stop();
      await database?.drop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
