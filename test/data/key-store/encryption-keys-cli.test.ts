import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { KeyVersionStatus } from '../../../src/cli/commands/encryption-keys.command.js';
import { openMigratedDatabase } from '../../../src/data/database/open-database.js';
import { openPostgresDatabase } from '../../../src/data/database/postgres-database.js';
import { openDataProtection } from '../../../src/data/key-store/data-protection.js';
import { ProviderKeyService } from '../../../src/gateway/provider-keys/provider-key.service.js';
import { SYSTEM_ACTOR, SYSTEM_CONTEXT } from '../../../src/http/request-context.js';
import { bootstrap } from '../../../src/tenancy/bootstrap.service.js';
import { ensureBuilt, killRunningProcesses, runCli } from '../../cli/cli-process.js';
import { createTestDatabase, type TestDatabase } from '../../support/test-database.js';

let database: TestDatabase;
let dataDir: string;
let env: Record<string, string>;
let orgId: string;

const PROVIDER_KEY = 'sk-ant-cli-test-5555ffff';

async function status(): Promise<KeyVersionStatus[]> {
  const result = await runCli(['keys', 'status', '--json'], env);
  expect(result.stderr).toBe('');
  expect(result.code).toBe(0);
  return (JSON.parse(result.stdout) as { data: KeyVersionStatus[] }).data;
}

beforeAll(async () => {
  await ensureBuilt();
  database = await createTestDatabase();
  dataDir = await mkdtemp(path.join(tmpdir(), 'mindweave-keys-cli-'));
  env = { DATABASE_URL: database.url, MINDWEAVE_DATA_DIR: dataDir, LOG_LEVEL: 'warn' };
  const config = { DATABASE_URL: database.url, MINDWEAVE_DATA_DIR: dataDir };
  const db = await openMigratedDatabase(config, 'test');
  try {
    const boot = await bootstrap(db, {
      orgName: 'Acme',
      projectSlug: 'demo',
      adminEmail: 'owner@example.com',
      adminName: 'Olivia Owner',
      allowedModels: [],
    });
    orgId = boot.orgId;
    const protection = await openDataProtection(
      { ...config, KMS_MASTER_KEY_DIR: undefined },
      db,
      pino({ level: 'silent' }),
    );
    const location = { tenant: orgId, table: 'users', column: 'email', rowId: 'row-1' };
    await protection.fieldCipher.encrypt(location, 'alice@example.com');
    const providerKeys = new ProviderKeyService(db, protection.fieldCipher, pino({ level: 'silent' }));
    const scope = { actor: SYSTEM_ACTOR, context: SYSTEM_CONTEXT, orgId };
    await providerKeys.put(scope, 'anthropic', PROVIDER_KEY);
  } finally {
    await db.close();
  }
}, 180_000);

afterAll(async () => {
  killRunningProcesses();
  await database?.drop();
  await rm(dataDir, { recursive: true, force: true });
});

describe('mindweave keys status and rotate', () => {
  it('help names encryption keys', async () => {
    const result = await runCli(['keys', '--help'], env);
    expect(result.stdout).toContain('encryption keys');
    expect(result.stdout).toContain('status');
    expect(result.stdout).toContain('rotate');
  });

  it('status lists purpose and data keys', async () => {
    const statuses = await status();
    const purposes = statuses.map((entry) => entry.purpose).sort();
    expect(purposes).toEqual(['application', 'compliance', 'data', 'database']);
    for (const entry of statuses) {
      expect(entry.version).toBe(1);
      expect(entry.state).toBe('active');
      expect(entry.ageDays).toBe(0);
      expect(entry.rotationDue).toBe(false);
      expect(entry.deletionDate).toBeNull();
    }
    const data = statuses.find((entry) => entry.purpose === 'data');
    expect(data?.owner).toEqual({ kind: 'tenant', tenant: orgId });
    expect(data?.encryptions).toBeGreaterThan(0);
    const created = Date.parse(data?.createdAt ?? '');
    // KEY_ROTATION_DAYS defaults to 365.
    expect(Date.parse(data?.nextRotation ?? '') - created).toBe(365 * 24 * 60 * 60 * 1000);
  });

  it('status follows KEY_ROTATION_DAYS', async () => {
    const configured = await runCli(['keys', 'status', '--json'], {
      ...env,
      KEY_ROTATION_DAYS: '30',
    });
    expect(configured.code).toBe(0);
    const [first] = (JSON.parse(configured.stdout) as { data: KeyVersionStatus[] }).data;
    const created = Date.parse(first?.createdAt ?? '');
    expect(Date.parse(first?.nextRotation ?? '') - created).toBe(30 * 24 * 60 * 60 * 1000);
    const overridden = await runCli(['keys', 'status', '--json', '--rotation-days', '7'], env);
    const [again] = (JSON.parse(overridden.stdout) as { data: KeyVersionStatus[] }).data;
    expect(Date.parse(again?.nextRotation ?? '') - created).toBe(7 * 24 * 60 * 60 * 1000);
  });

  it('status prints a line per version', async () => {
    const result = await runCli(['keys', 'status'], env);
    expect(result.code).toBe(0);
    const lines = result.stdout.trim().split('\n');
    expect(lines).toHaveLength(5);
    expect(lines[0]).toBe(
      `kms provider: local, master key local-master in ${path.join(dataDir, 'kms', 'master.key')}`,
    );
    expect(result.stdout).toContain(`org ${orgId}`);
    expect(result.stdout).toContain('rotate by');
  });

  it('rotates an organization data key', async () => {
    const result = await runCli(['keys', 'rotate', '--org', orgId, '--json'], env);
    expect(result.code).toBe(0);
    const { rotated } = JSON.parse(result.stdout) as { rotated: { version: number }[] };
    expect(rotated).toHaveLength(1);
    expect(rotated[0]?.version).toBe(2);
    const data = (await status()).filter((entry) => entry.purpose === 'data');
    expect(data.map((entry) => entry.state)).toEqual(['decrypt_only', 'active']);
  });

  it('rotates a purpose key', async () => {
    const result = await runCli(['keys', 'rotate', '--purpose', 'database'], env);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^rotated database key pk_\S+ to version 2\n$/);
    const databaseKeys = (await status()).filter((entry) => entry.purpose === 'database');
    expect(databaseKeys.map((entry) => entry.version)).toEqual([1, 2]);
  });

  it('status counts keys under purpose versions', async () => {
    const statuses = await status();
    const data = statuses.filter((entry) => entry.purpose === 'data');
    for (const entry of data) expect(entry.wrappedKeys).toBeNull();
    const [oldDatabase, newDatabase] = statuses.filter((entry) => entry.purpose === 'database');
    // The organization data key and every other data key created so far predate the rotation.
    expect(oldDatabase?.wrappedKeys?.dataKeys).toBe(
      data.filter((entry) => entry.state !== 'destroyed').length,
    );
    expect(oldDatabase?.wrappedKeys?.subjectKeys).toBe(0);
    expect(newDatabase?.wrappedKeys).toEqual({ dataKeys: 0, subjectKeys: 0, loginThrottleKeys: 0 });
    const compliance = statuses.find((entry) => entry.purpose === 'compliance');
    expect(compliance?.wrappedKeys?.dataKeys).toBe(0);
    expect(compliance?.wrappedKeys?.loginThrottleKeys).toBe(0);

    const text = await runCli(['keys', 'status'], env);
    expect(text.code).toBe(0);
    const lines = text.stdout.split('\n');
    const oldLine = lines.find((line) => line.includes(`${oldDatabase?.keyId} v1 `));
    expect(oldLine).toContain(`wraps ${oldDatabase?.wrappedKeys?.dataKeys} data keys`);
    const newLine = lines.find((line) => line.includes(`${newDatabase?.keyId} v2 `));
    expect(newLine).toContain('wraps no key');
  });

  it('rejects rotate without a target', async () => {
    const result = await runCli(['keys', 'rotate'], env);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('pass --purpose or --org');
  });

  it('rejects invalid rotate options', async () => {
    const purpose = await runCli(['keys', 'rotate', '--purpose', 'master'], env);
    expect(purpose.code).toBe(2);
    expect(purpose.stderr).toContain('--purpose must be one of');
    const org = await runCli(['keys', 'rotate', '--org', 'acme'], env);
    expect(org.code).toBe(2);
    expect(org.stderr).toContain('--org must be an organization id');
    const mixed = await runCli(['keys', 'rotate', '--org', orgId, '--purpose', 'database'], env);
    expect(mixed.code).toBe(2);
    expect(mixed.stderr).toContain('--org rotates an organization data key');
  });

  it('re-encrypts provider keys on request', async () => {
    const result = await runCli(['keys', 'rotate', '--org', orgId, '--reencrypt', '--json'], env);
    expect(result.code).toBe(0);
    const { rotated } = JSON.parse(result.stdout) as {
      rotated: { version: number; reencryption: { examined: number; reencrypted: number } }[];
    };
    expect(rotated[0]?.version).toBe(3);
    expect(rotated[0]?.reencryption.examined).toBe(1);
    expect(rotated[0]?.reencryption.reencrypted).toBe(1);
    expect(result.stdout).not.toContain(PROVIDER_KEY);
    expect(result.stderr).not.toContain(PROVIDER_KEY);
  });

  it('rejects --reencrypt for purpose keys', async () => {
    const result = await runCli(['keys', 'rotate', '--purpose', 'database', '--reencrypt'], env);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--reencrypt applies to data keys only');
  });

  it('audits rotations', async () => {
    // As the owner: the entries belong to several organizations and to none, and row-level
    // security shows the application role only one organization's entries at a time.
    const db = await openPostgresDatabase(database.url);
    try {
      const result = await db.query<{ metadata: { purpose: string; version: number } }>(
        `SELECT metadata FROM audit_logs WHERE action = 'encryption_key.rotated' ORDER BY seq`,
      );
      expect(result.rows.map((row) => row.metadata.purpose)).toEqual(['data', 'database', 'data']);
    } finally {
      await db.close();
    }
  });
});
