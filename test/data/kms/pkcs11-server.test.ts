/* eslint-disable security/detect-non-literal-fs-filename -- paths are temporary test folders. */
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

import Anthropic from '@anthropic-ai/sdk';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { BootstrapResult } from '../../../src/tenancy/bootstrap.service.js';
import { api, ownerSession } from '../../admin/admin-api.js';
import { FakeProvider } from '../../support/fake-provider.js';
import { bootstrapSourceDatabase, sourceTarget } from '../../support/source-bootstrap.js';
import { createSoftHsmToken, type SoftHsmToken } from '../../support/softhsm.js';
import {
  runSourceServe,
  startSourceServer,
  type SourceServer,
} from '../../support/source-server.js';
import { createTestDatabase, type TestDatabase } from '../../support/test-database.js';
import type { TestServer } from '../../support/test-server.js';

const SERVER_KEY = 'sk-ant-server-env-key-0000aaaa';
const ORG_KEY = 'sk-ant-org-hsm-protected-1111bbbb';

let token: SoftHsmToken;
let fake: FakeProvider;
let database: TestDatabase;
let dataDir: string;
let boot: BootstrapResult;
let env: Record<string, string>;
const servers: SourceServer[] = [];

beforeAll(async () => {
  token = await createSoftHsmToken('mindweave-server');
  fake = new FakeProvider();
  const fakeUrl = await fake.start();
  database = await createTestDatabase();
  dataDir = await mkdtemp(path.join(tmpdir(), 'mindweave-pkcs11-server-'));
  env = {
    DATABASE_URL: database.url,
    MINDWEAVE_DATA_DIR: dataDir,
    ANTHROPIC_BASE_URL: fakeUrl,
    ANTHROPIC_API_KEY: SERVER_KEY,
    RATE_LIMIT_IP_MAX: '0',
    RATE_LIMIT_AUTH_MAX: '0',
    KMS_PROVIDER: 'pkcs11',
    PKCS11_LIBRARY: token.libraryPath,
    PKCS11_TOKEN_LABEL: token.tokenLabel,
    PKCS11_PIN: token.pin,
    // SoftHSM2 finds the token folder through this file.
    SOFTHSM2_CONF: process.env.SOFTHSM2_CONF ?? '',
  };
  boot = await bootstrapSourceDatabase(env);
}, 120_000);

afterAll(async () => {
  for (const server of servers) await server.stop('SIGKILL');
  await fake?.stop();
  await database?.drop();
  await token?.cleanup();
  await rm(dataDir, { recursive: true, force: true });
});

async function start(extra: Record<string, string> = {}): Promise<SourceServer> {
  const server = await startSourceServer({ ...env, ...extra });
  servers.push(server);
  return server;
}

function target(server: SourceServer): TestServer {
  return sourceTarget(server, boot);
}

/** Sends one gateway call through `server` and returns the key the fake provider received. */
async function keySentUpstream(server: SourceServer): Promise<unknown> {
  const client = new Anthropic({ apiKey: boot.apiKey, baseURL: server.url, maxRetries: 0 });
  const before = fake.received.length;
  await client.messages.create({
    model: 'claude-sonnet-4-5',
    max_tokens: 10,
    messages: [{ role: 'user', content: 'Say hello' }],
  });
  return fake.received[before]?.headers['x-api-key'];
}

describe('server with KMS_PROVIDER=pkcs11', { timeout: 180_000 }, () => {
  it('keeps a provider key across a restart', async () => {
    const first = await start({ PKCS11_CREATE_KEY: 'true' });
    const ready = first.logs.find((line) => line.msg === 'key hierarchy ready');
    expect(ready?.kmsProvider).toBe('pkcs11');
    expect(ready?.masterKeyId).toBe('mindweave-master');
    const owner = await ownerSession(target(first));
    const stored = await api(
      target(first),
      'PUT',
      `/api/v1/organizations/${boot.orgId}/provider-keys/anthropic`,
      { token: owner, body: { apiKey: ORG_KEY } },
    );
    expect(stored.status).toBe(201);
    expect(await keySentUpstream(first)).toBe(ORG_KEY);
    expect(await first.stop()).toBe(0);

    // The purpose keys are wrapped by the token's key, and no local key file was written.
    expect(existsSync(path.join(dataDir, 'kms', 'master.key'))).toBe(false);
    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    try {
      const parents = await client.query<{ provider: string; key: string }>(
        `SELECT DISTINCT parent_provider AS provider, parent_master_key_id AS key
           FROM encryption_key_versions WHERE parent_kind = 'kms'`,
      );
      expect(parents.rows).toEqual([{ provider: 'pkcs11', key: 'mindweave-master' }]);
    } finally {
      await client.end();
    }

    // A new process, without PKCS11_CREATE_KEY, finds the key on the token and decrypts.
    const second = await start();
    expect(await keySentUpstream(second)).toBe(ORG_KEY);
    expect(await second.stop()).toBe(0);
  });

  it('wrong PIN stops the start', async () => {
    const wrongPin = 'not-the-pin-4711';
    const result = await runSourceServe({ ...env, PKCS11_PIN: wrongPin });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('mindweave: PKCS#11 login to token "mindweave-server" failed');
    expect(result.stderr).toContain('check PKCS11_PIN');
    expect(result.stderr).not.toContain(wrongPin);
    expect(result.stderr).not.toContain(token.pin);
    expect(result.stdout).not.toContain(wrongPin);
    expect(result.stdout).not.toContain(token.pin);
  });

  it('missing PIN is a config error', async () => {
    const { PKCS11_PIN: _pin, ...withoutPin } = env;
    const result = await runSourceServe(withoutPin);
    expect(result.code).toBe(2);
    expect(result.stderr.trim()).toBe(
      'mindweave: invalid configuration: PKCS11_PIN must be set when KMS_PROVIDER is pkcs11',
    );
  });
});
