/* eslint-disable security/detect-non-literal-fs-filename -- paths are temporary test folders. */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rename, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

import Anthropic from '@anthropic-ai/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { loadConfig } from '../../../src/config/load-config.js';
import { openDatabase } from '../../../src/data/database/open-database.js';
import { kmsConfig } from '../../../src/data/key-store/data-protection.js';
import {
  configuredMasterKeyId,
  createKmsProvider,
} from '../../../src/data/kms/create-kms-provider.js';
import {
  listMasterKeyReferences,
  rewrapPurposeKeysUnderMaster,
} from '../../../src/data/kms/master-key-rewrap.js';
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

const run = promisify(execFile);

const SERVER_KEY = 'sk-ant-server-env-key-2222cccc';
const ORG_KEY = 'sk-ant-org-master-rotation-3333dddd';

let token: SoftHsmToken | undefined;
let fake: FakeProvider;
let database: TestDatabase;
let dataDir: string;
let kmsDir: string;
let boot: BootstrapResult;
let env: Record<string, string>;
let session: string;
const servers: SourceServer[] = [];

interface RewrapSummary {
  targetMasterKeyId: string;
  examined: number;
  rewrapped: number;
  skipped: number;
  references: { masterKeyId: string; provider: string; purposeKeyVersions: number }[];
  localKeyFiles: {
    masterKeyId: string;
    file: string;
    references: number;
    removable: boolean;
    removed: boolean;
  }[];
}

beforeAll(async () => {
  fake = new FakeProvider();
  const fakeUrl = await fake.start();
  database = await createTestDatabase();
  dataDir = await mkdtemp(path.join(tmpdir(), 'mindweave-master-key-'));
  kmsDir = path.join(dataDir, 'kms');
  env = {
    DATABASE_URL: database.url,
    MINDWEAVE_DATA_DIR: dataDir,
    ANTHROPIC_BASE_URL: fakeUrl,
    ANTHROPIC_API_KEY: SERVER_KEY,
    RATE_LIMIT_IP_MAX: '0',
    RATE_LIMIT_AUTH_MAX: '0',
    LOG_LEVEL: 'warn',
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
  const server = await startSourceServer({ ...env, LOG_LEVEL: 'info', ...extra });
  servers.push(server);
  return server;
}

function target(server: SourceServer): TestServer {
  return sourceTarget(server, boot);
}

async function cli(
  extra: Record<string, string>,
  ...args: string[]
): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(
      process.execPath,
      ['--import', 'tsx', 'src/cli/main.ts', ...args],
      { env: { ...process.env, ...env, ...extra } },
    );
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

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

/** Checks every kind of encrypted value through a freshly started server. */
async function expectEverythingReadable(server: SourceServer): Promise<void> {
  // Provider key: encrypted under the organization's data key, under the database key.
  expect(await keySentUpstream(server)).toBe(ORG_KEY);
  // User fields: the owner's e-mail address is stored encrypted.
  const me = await api(target(server), 'GET', '/api/v1/auth/me', { token: session });
  expect(me.status).toBe(200);
  expect(JSON.stringify(me.body)).toContain('owner@example.com');
  // Sealed audit fields: personal fields of audit entries are sealed under subject keys, which
  // the compliance key wraps.
  const audit = await api(target(server), 'GET', `/api/v1/organizations/${boot.orgId}/audit`, {
    token: session,
  });
  expect(audit.status).toBe(200);
  expect(JSON.stringify(audit.body)).toContain('owner@example.com');
}

async function usageRecords(operation: string): Promise<number> {
  const db = await openDatabase(loadConfig(env), 'test inspection');
  try {
    const result = await db.query<{ total: string }>(
      `SELECT count(*) AS total FROM key_usage_log WHERE actor = 'cli' AND operation = $1`,
      [operation],
    );
    return Number(result.rows[0]?.total);
  } finally {
    await db.close();
  }
}

describe('local master key rotation', { timeout: 240_000 }, () => {
  it('re-wraps purpose keys and keeps data readable', async () => {
    const first = await start();
    session = await ownerSession(target(first));
    const stored = await api(
      target(first),
      'PUT',
      `/api/v1/organizations/${boot.orgId}/provider-keys/anthropic`,
      { token: session, body: { apiKey: ORG_KEY } },
    );
    expect(stored.status).toBe(201);
    await expectEverythingReadable(first);
    expect(await first.stop()).toBe(0);

    const rotated = await cli({}, 'keys', 'rotate-master', '--json');
    expect(rotated.stderr).not.toContain('unexpected failure');
    expect(rotated.code).toBe(0);
    const rotation = JSON.parse(rotated.stdout) as { masterKeyId: string; filePath: string };
    expect(rotation.masterKeyId).toBe('local-master-2');
    expect(rotation.filePath).toBe(path.join(kmsDir, 'master-2.key'));
    expect((await stat(rotation.filePath)).mode & 0o777).toBe(0o600);
    expect((await stat(kmsDir)).mode & 0o777).toBe(0o700);

    const unwrapsBefore = await usageRecords('unwrap');
    const rewrapped = await cli({}, 'keys', 'rewrap-master', '--json');
    expect(rewrapped.stderr).not.toContain('unexpected failure');
    expect(rewrapped.code).toBe(0);
    const summary = JSON.parse(rewrapped.stdout) as RewrapSummary;
    expect(summary.targetMasterKeyId).toBe('local-master-2');
    expect(summary.rewrapped).toBe(3);
    expect(summary.references).toEqual([
      { masterKeyId: 'local-master-2', provider: 'local-file', purposeKeyVersions: 3 },
    ]);
    expect(await usageRecords('unwrap')).toBe(unwrapsBefore + 3);
    expect(await usageRecords('wrap')).toBeGreaterThanOrEqual(3);
    const old = summary.localKeyFiles.find((file) => file.masterKeyId === 'local-master');
    expect(old).toEqual(expect.objectContaining({ references: 0, removable: true, removed: false }));
    const active = summary.localKeyFiles.find((file) => file.masterKeyId === 'local-master-2');
    expect(active?.removable).toBe(false);
    expect(existsSync(path.join(kmsDir, 'master.key'))).toBe(true);

    const again = JSON.parse((await cli({}, 'keys', 'rewrap-master', '--json')).stdout) as RewrapSummary;
    expect(again.examined).toBe(0);

    const removed = await cli({}, 'keys', 'rewrap-master', '--remove-unreferenced');
    expect(removed.code).toBe(0);
    expect(removed.stdout).toContain(`local master key local-master in ${path.join(kmsDir, 'master.key')} was removed`);
    expect(existsSync(path.join(kmsDir, 'master.key'))).toBe(false);
    expect(existsSync(path.join(kmsDir, 'master-2.key'))).toBe(true);

    const second = await start();
    await expectEverythingReadable(second);
    expect(await second.stop()).toBe(0);
  });

  it('keeps a referenced old key file', async () => {
    expect((await cli({}, 'keys', 'rotate-master')).code).toBe(0);
    // Without a re-wrap, local-master-2 still wraps every purpose key version.
    const reportRun = await cli(
      {},
      'keys',
      'rewrap-master',
      '--report-only',
      '--remove-unreferenced',
      '--json',
    );
    expect(reportRun.code).toBe(0);
    const report = JSON.parse(reportRun.stdout) as RewrapSummary;
    expect(report.examined).toBe(0);
    expect(report.localKeyFiles).toEqual([
      expect.objectContaining({
        masterKeyId: 'local-master-2',
        references: 3,
        removable: false,
        removed: false,
      }),
      expect.objectContaining({
        masterKeyId: 'local-master-3',
        references: 0,
        removable: false,
        removed: false,
      }),
    ]);
    expect(existsSync(path.join(kmsDir, 'master-2.key'))).toBe(true);

    const result = await cli({}, 'keys', 'rewrap-master', '--json', '--remove-unreferenced');
    const summary = JSON.parse(result.stdout) as RewrapSummary;
    expect(summary.rewrapped).toBe(3);
    expect(existsSync(path.join(kmsDir, 'master-2.key'))).toBe(false);
    expect(existsSync(path.join(kmsDir, 'master-3.key'))).toBe(true);
  });

  it('rejects a start without the master key', async () => {
    const moved = path.join(dataDir, 'moved-master-3.key');
    await rename(path.join(kmsDir, 'master-3.key'), moved);
    try {
      const result = await runSourceServe(env);
      expect(result.code).toBe(1);
      expect(result.stderr).toContain(
        '3 purpose key versions are wrapped under master key "local-master-3" of provider ' +
          'local-file, which no configured KMS provider holds',
      );
      expect(result.stderr).not.toContain('unexpected failure');
    } finally {
      // The refused start created a first key file, which must not shadow the moved one.
      await rm(path.join(kmsDir, 'master.key'), { force: true });
      await rename(moved, path.join(kmsDir, 'master-3.key'));
    }
  });

  it('rejects rotate-master for the PKCS#11 provider', async () => {
    const result = await cli(
      { KMS_PROVIDER: 'pkcs11', PKCS11_LIBRARY: '/nonexistent.so', PKCS11_TOKEN_LABEL: 'x', PKCS11_PIN: 'pin-unused-0' },
      'keys',
      'rotate-master',
    );
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("rotates the local provider's master key only");
    expect(result.stderr).not.toContain('    at ');
  });

  it('rejects an unknown option with exit code 2', async () => {
    const result = await cli({}, 'keys', 'rewrap-master', '--remove-everything');
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("unknown option '--remove-everything'");
  });
});

describe('local to PKCS#11 migration', { timeout: 240_000 }, () => {
  it('moves every purpose key to the token', async () => {
    token = await createSoftHsmToken('mindweave-migrate');
    const pkcs11 = {
      KMS_PROVIDER: 'pkcs11',
      PKCS11_LIBRARY: token.libraryPath,
      PKCS11_TOKEN_LABEL: token.tokenLabel,
      PKCS11_PIN: token.pin,
      SOFTHSM2_CONF: process.env.SOFTHSM2_CONF ?? '',
    };
    const migrating = { ...pkcs11, KMS_DECRYPT_ONLY: 'local' };

    // A run that stops after the first version, as a killed process would.
    const settings = kmsConfig(loadConfig({ ...env, ...migrating, PKCS11_CREATE_KEY: 'true' }));
    const kms = await createKmsProvider(settings);
    const db = await openDatabase(loadConfig(env), 'test migration');
    try {
      await expect(
        rewrapPurposeKeysUnderMaster(db, {
          kms,
          targetMasterKeyId: configuredMasterKeyId(settings),
          actor: 'cli',
          onRewrapped: () => {
            throw new Error('stopped midway');
          },
        }),
      ).rejects.toThrow('stopped midway');
      const references = await listMasterKeyReferences(db);
      expect(references).toEqual([
        { masterKeyId: 'local-master-3', provider: 'local-file', purposeKeyVersions: 2 },
        { masterKeyId: 'mindweave-master', provider: 'pkcs11', purposeKeyVersions: 1 },
      ]);
    } finally {
      await db.close();
      await kms.close?.();
    }

    // Midway, a server with both providers reads everything, and one with the token alone
    // refuses to start.
    const both = await start(migrating);
    await expectEverythingReadable(both);
    expect(await both.stop()).toBe(0);
    const tokenOnly = await runSourceServe({ ...env, ...pkcs11 });
    expect(tokenOnly.code).toBe(1);
    expect(tokenOnly.stderr).toContain('master key "local-master-3" of provider local-file');

    const finished = await cli(migrating, 'keys', 'migrate-kms', '--json', '--remove-unreferenced');
    expect(finished.stderr).not.toContain('unexpected failure');
    expect(finished.code).toBe(0);
    const summary = JSON.parse(finished.stdout) as RewrapSummary;
    expect(summary.rewrapped).toBe(2);
    expect(summary.references).toEqual([
      { masterKeyId: 'mindweave-master', provider: 'pkcs11', purposeKeyVersions: 3 },
    ]);
    expect(summary.localKeyFiles.map((file) => file.removed)).toEqual([true]);
    expect(existsSync(path.join(kmsDir, 'master-3.key'))).toBe(false);

    const migrated = await start(pkcs11);
    await expectEverythingReadable(migrated);
    expect(await migrated.stop()).toBe(0);
  });
});
