/* eslint-disable security/detect-non-literal-fs-filename -- paths are temporary test folders. */
import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

import Anthropic from '@anthropic-ai/sdk';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { loadConfig } from '../../src/config/load-config.js';
import { migrate } from '../../src/data/database/migrate.js';
import { openDatabase } from '../../src/data/database/open-database.js';
import { reloadSecretFiles } from '../../src/server/secret-reload.js';
import { bootstrap, type BootstrapResult } from '../../src/tenancy/bootstrap.service.js';
import { FakeProvider } from '../support/fake-provider.js';
import { startSourceServer, waitForLog, type SourceServer } from '../support/source-server.js';
import { createTestDatabase, type TestDatabase } from '../support/test-database.js';
import { TEST_MODELS } from '../support/test-server.js';

const FIRST_KEY = 'sk-ant-mounted-first-1111aaaa';
const ROTATED_KEY = 'sk-ant-mounted-rotated-2222bbbb';

let fake: FakeProvider;
let fakeUrl: string;
let database: TestDatabase;
let folder: string;
let keyFile: string;
let boot: BootstrapResult;
let server: SourceServer | undefined;

/** Replaces `file` the way a secret mount does: the new content appears in one step. */
async function replaceFile(file: string, content: string): Promise<void> {
  const next = `${file}.next`;
  await writeFile(next, content, { mode: 0o600 });
  await rename(next, file);
}

async function keySentUpstream(url: string): Promise<unknown> {
  const client = new Anthropic({ apiKey: boot.apiKey, baseURL: url, maxRetries: 0 });
  const before = fake.received.length;
  await client.messages.create({
    model: 'claude-sonnet-4-5',
    max_tokens: 10,
    messages: [{ role: 'user', content: 'Say hello' }],
  });
  return fake.received[before]?.headers['x-api-key'];
}

beforeAll(async () => {
  fake = new FakeProvider();
  fakeUrl = await fake.start();
  database = await createTestDatabase();
  folder = await mkdtemp(path.join(tmpdir(), 'mindweave-secret-reload-'));
  keyFile = path.join(folder, 'anthropic-api-key');
  const db = await openDatabase(loadConfig({ DATABASE_URL: database.url }), 'test bootstrap');
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
  await server?.stop('SIGKILL');
  await fake?.stop();
  await database?.drop();
  await rm(folder, { recursive: true, force: true });
});

describe('SIGHUP secret reload', { timeout: 120_000 }, () => {
  it('sends the rotated provider key', async () => {
    await writeFile(keyFile, `${FIRST_KEY}\n`, { mode: 0o600 });
    server = await startSourceServer({
      DATABASE_URL: database.url,
      MINDWEAVE_DATA_DIR: path.join(folder, 'data'),
      ANTHROPIC_BASE_URL: fakeUrl,
      ANTHROPIC_API_KEY_FILE: keyFile,
      RATE_LIMIT_IP_MAX: '0',
    });
    expect(await keySentUpstream(server.url)).toBe(FIRST_KEY);

    await replaceFile(keyFile, `${ROTATED_KEY}\n`);
    const from = server.logs.length;
    server.child.kill('SIGHUP');
    const reloaded = await waitForLog(
      server,
      (line) => line.msg === 'reloaded secret settings',
      from,
    );
    expect(reloaded.changed).toEqual(['ANTHROPIC_API_KEY']);
    expect(await keySentUpstream(server.url)).toBe(ROTATED_KEY);

    // An empty file is rejected, and the key read before stays in use.
    await replaceFile(keyFile, '');
    const failedFrom = server.logs.length;
    server.child.kill('SIGHUP');
    const failed = await waitForLog(
      server,
      (line) => line.msg === 'secret reload failed; the current secrets stay in use',
      failedFrom,
    );
    expect(JSON.stringify(failed)).toContain('ANTHROPIC_API_KEY_FILE');
    expect(await keySentUpstream(server.url)).toBe(ROTATED_KEY);

    const logText = server.logs.map((line) => JSON.stringify(line)).join('\n');
    expect(logText).not.toContain(FIRST_KEY);
    expect(logText).not.toContain(ROTATED_KEY);
    expect(await server.stop()).toBe(0);
    server = undefined;
  });
});

describe('reloadSecretFiles', () => {
  const logger = pino({ level: 'silent' });

  it('applies a new database password', async () => {
    const file = path.join(folder, 'database-url');
    await writeFile(file, 'postgres://app:old-pass@db.internal:5432/mindweave\n');
    const env = { DATABASE_URL_FILE: file };
    const config = loadConfig(env);
    await replaceFile(file, 'postgres://app:new%20pass@db.internal:5432/mindweave\n');
    expect(reloadSecretFiles(config, env, logger)).toEqual({
      applied: ['DATABASE_URL'],
      needRestart: [],
    });
    expect(config.DATABASE_URL).toBe('postgres://app:new%20pass@db.internal:5432/mindweave');
  });

  it('leaves other database changes for a restart', async () => {
    const file = path.join(folder, 'database-url-host');
    await writeFile(file, 'postgres://app:pass@db-a.internal:5432/mindweave\n');
    const env = { DATABASE_URL_FILE: file };
    const config = loadConfig(env);
    await replaceFile(file, 'postgres://app:pass@db-b.internal:5432/mindweave\n');
    expect(reloadSecretFiles(config, env, logger)).toEqual({
      applied: [],
      needRestart: ['DATABASE_URL'],
    });
    expect(config.DATABASE_URL).toBe('postgres://app:pass@db-a.internal:5432/mindweave');
  });

  it('leaves settings without a file alone', async () => {
    const file = path.join(folder, 'smtp-password');
    await writeFile(file, 'smtp-old\n');
    const env = { SMTP_PASSWORD_FILE: file, OPENAI_API_KEY: 'sk-openai-env' };
    const config = loadConfig(env);
    await replaceFile(file, 'smtp-new\n');
    const changedEnv = { ...env, OPENAI_API_KEY: 'sk-openai-changed' };
    expect(reloadSecretFiles(config, changedEnv, logger).applied).toEqual(['SMTP_PASSWORD']);
    expect(config.SMTP_PASSWORD).toBe('smtp-new');
    expect(config.OPENAI_API_KEY).toBe('sk-openai-env');
  });
});
