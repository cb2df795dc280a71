import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';

import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { api } from '../../admin/admin-api.js';
import { FieldCipher } from '../../../src/data/crypto/field-cipher.js';
import { KeyHierarchy } from '../../../src/data/crypto/key-hierarchy.js';
import type { PurposeKeyName } from '../../../src/data/crypto/key-types.js';
import { DatabaseKeyStore } from '../../../src/data/key-store/database-key-store.js';
import { DatabaseKeyUsageSink } from '../../../src/data/key-store/database-key-usage-sink.js';
import {
  openDataProtection,
  type DataProtection,
} from '../../../src/data/key-store/data-protection.js';
import { listPurposeKeyDependants } from '../../../src/data/key-store/purpose-key-dependants.js';
import {
  complianceKeyWrapping,
  PersonalDataSealer,
} from '../../../src/data/personal-data/personal-data-sealer.js';
import { rewrapSubjectKeys } from '../../../src/data/personal-data/subject-key-rewrap.js';
import { userFieldLocation } from '../../../src/data/personal-data/user-field-protection.js';
import { providerKeyLocation } from '../../../src/gateway/provider-keys/provider-key.service.js';
import { ownerSession } from '../../support/admin-session.js';
import { registerSecrets } from '../../support/secret-scan.js';
import { startTestServer, type TestServer } from '../../support/test-server.js';

const run = promisify(execFile);
const DAY_MS = 24 * 60 * 60 * 1000;
const ORG_PROVIDER_KEY = 'sk-ant-rewrap-test-EEEE5555vvvv';

let t: TestServer;
let keys: DataProtection;
/** Time of the hierarchy under test, moved forward past deletion dates. */
let now = new Date();
let hierarchy: KeyHierarchy;

/** Builds a key hierarchy over the test database whose clock reads `now`, with an empty cache. */
function freshHierarchy(): KeyHierarchy {
  return new KeyHierarchy({
    kms: keys.kms,
    masterKeyId: keys.masterKeyId,
    store: new DatabaseKeyStore(t.owner),
    usageSink: new DatabaseKeyUsageSink(t.owner),
    clock: () => now,
  });
}

async function purposeKeyId(name: PurposeKeyName): Promise<string> {
  const keyId = await new DatabaseKeyStore(t.owner).findKeyId(name, { kind: 'system' });
  if (keyId === undefined) throw new Error(`no ${name} key`);
  return keyId;
}

/** Parent versions of every data key version that is not destroyed. */
async function dataKeyParentVersions(): Promise<number[]> {
  const { rows } = await t.owner.query<{ parentVersion: number }>(
    `SELECT v.parent_version AS "parentVersion" FROM encryption_key_versions v
       JOIN encryption_keys k USING (key_id)
      WHERE k.purpose = 'data' AND v.state <> 'destroyed' ORDER BY v.key_id, v.version`,
  );
  return rows.map((row) => row.parentVersion);
}

async function subjectKeyVersions(): Promise<number[]> {
  const { rows } = await t.owner.query<{ version: number }>(
    `SELECT compliance_key_version AS version FROM personal_data_keys
      WHERE wrapped_key IS NOT NULL ORDER BY subject_id`,
  );
  return rows.map((row) => row.version);
}

/**
 * Decrypts every stored provider key and user email, name and phone with a hierarchy that has
 * never cached a key, and returns the provider keys and emails.
 */
async function decryptEverything(): Promise<{ providerKeys: string[]; emails: string[] }> {
  const cipher = new FieldCipher(freshHierarchy());
  const providers = await t.owner.query<{ id: string; orgId: string; encryptedKey: string }>(
    `SELECT id, org_id AS "orgId", encrypted_key AS "encryptedKey"
       FROM organization_provider_keys ORDER BY id`,
  );
  const providerKeys: string[] = [];
  for (const row of providers.rows) {
    providerKeys.push(
      await cipher.decryptString(providerKeyLocation(row.orgId, row.id), row.encryptedKey),
    );
  }
  const users = await t.owner.query<{ id: string; email: string; name: string }>(
    `SELECT id, email_encrypted AS email, name_encrypted AS name FROM users ORDER BY id`,
  );
  const emails: string[] = [];
  for (const row of users.rows) {
    emails.push(await cipher.decryptString(userFieldLocation(row.id, 'email'), row.email));
    expect(await cipher.decryptString(userFieldLocation(row.id, 'name'), row.name)).not.toBe('');
  }
  return { providerKeys, emails };
}

/** Opens every sealed actor email of the audit log with a sealer that has cached no key. */
async function openSealedEmails(): Promise<(string | null)[]> {
  const sealer = new PersonalDataSealer();
  sealer.useWrapping(complianceKeyWrapping(freshHierarchy()));
  const { rows } = await t.owner.query<{ email: string }>(
    `SELECT actor_email AS email FROM audit_logs WHERE actor_email IS NOT NULL ORDER BY seq`,
  );
  expect(rows.length).toBeGreaterThan(0);
  const opened: (string | null)[] = [];
  for (const row of rows) opened.push(await sealer.unseal(t.owner, row.email, 'actor_email'));
  return opened;
}

/** Runs `mindweave audit verify --json` as its own process against the test database. */
async function auditVerifies(): Promise<boolean> {
  const { stdout } = await run(
    process.execPath,
    ['--import', 'tsx', 'src/cli/main.ts', 'audit', 'verify', '--json'],
    {
      env: {
        ...process.env,
        DATABASE_URL: t.config.DATABASE_URL,
        MINDWEAVE_DATA_DIR: t.config.MINDWEAVE_DATA_DIR,
        LOG_LEVEL: 'warn',
      },
    },
  );
  return (JSON.parse(stdout) as { ok: boolean }).ok;
}

class InjectedCrash extends Error {
  override name = 'InjectedCrash';
}

beforeAll(async () => {
  registerSecrets(ORG_PROVIDER_KEY);
  t = await startTestServer();
  const token = await ownerSession(t);
  const stored = await api(
    t,
    'PUT',
    `/api/v1/organizations/${t.boot.orgId}/provider-keys/anthropic`,
    { token, body: { apiKey: ORG_PROVIDER_KEY } },
  );
  expect(stored.status).toBeLessThan(300);
  keys = await openDataProtection(t.config, t.owner, pino({ level: 'silent' }), 'test');
  hierarchy = freshHierarchy();
  // A data key per subject as well as the organization and platform keys.
  await keys.fieldCipher.encrypt(
    { tenant: t.boot.orgId, table: 'users', column: 'phone', rowId: 'rewrap-row' },
    '+15550123',
    { subject: `user:${t.boot.adminUserId}` },
  );
}, 120_000);

afterAll(async () => {
  await keys?.close();
  await t?.stop();
});

describe('re-wrapping data keys under a new database key version', () => {
  it('rejects deleting the active version', async () => {
    const keyId = await purposeKeyId('database');
    await expect(hierarchy.scheduleDeletion(keyId, { actor: 'test', version: 1 })).rejects.toThrow(
      /active version/,
    );
    await expect(hierarchy.scheduleDeletion(keyId, { actor: 'test' })).rejects.toThrow(
      /pass the number of a version/,
    );
  });

  it('rejects an old version with data keys', async () => {
    const keyId = await purposeKeyId('database');
    const rotated = await hierarchy.rotate(keyId, 'test');
    expect(rotated.version).toBe(2);
    const parents = await dataKeyParentVersions();
    expect(parents.length).toBeGreaterThanOrEqual(3);
    expect(parents.every((version) => version === 1)).toBe(true);
    await expect(hierarchy.scheduleDeletion(keyId, { actor: 'test', version: 1 })).rejects.toThrow(
      `${parents.length} keys are still wrapped under it. Run mindweave keys rewrap --purpose database`,
    );
  });

  it('resumes after an interrupted run', async () => {
    const total = (await dataKeyParentVersions()).length;
    await expect(
      hierarchy.rewrapDataKeys({
        actor: 'test',
        onRewrapped: (_ref, progress) => {
          if (progress.rewrapped === 1) throw new InjectedCrash('stopped after one key');
        },
      }),
    ).rejects.toThrow(InjectedCrash);
    const midwayParents = await dataKeyParentVersions();
    expect(midwayParents.filter((version) => version === 2)).toHaveLength(1);
    expect(midwayParents.filter((version) => version === 1)).toHaveLength(total - 1);
    const midway = await decryptEverything();
    expect(midway.providerKeys).toEqual([ORG_PROVIDER_KEY]);
    expect(midway.emails).toContain(t.boot.adminEmail);

    const second = await freshHierarchy().rewrapDataKeys({ actor: 'test' });
    expect(second).toEqual({ parentVersion: 2, examined: total - 1, rewrapped: total - 1, skipped: 0 });
    expect(await dataKeyParentVersions()).toEqual(Array.from({ length: total }, () => 2));

    const third = await freshHierarchy().rewrapDataKeys({ actor: 'test' });
    expect(third).toEqual({ parentVersion: 2, examined: 0, rewrapped: 0, skipped: 0 });
  });

  it('logs an unwrap and a wrap per key', async () => {
    const { rows } = await t.owner.query<{ operation: string; parentVersion: string }>(
      `SELECT operation, encryption_context->>'parentVersion' AS "parentVersion"
         FROM key_usage_log WHERE actor = 'test' AND purpose = 'data'
          AND operation IN ('unwrap', 'wrap') ORDER BY id`,
    );
    const total = (await dataKeyParentVersions()).length;
    expect(rows.filter((row) => row.operation === 'unwrap' && row.parentVersion === '1')).toHaveLength(
      total,
    );
    expect(rows.filter((row) => row.operation === 'wrap' && row.parentVersion === '2')).toHaveLength(
      total,
    );
  });

  it('destroys the unused old version', async () => {
    const keyId = await purposeKeyId('database');
    const before = await listPurposeKeyDependants(t.owner);
    expect(before.find((row) => row.purpose === 'database' && row.version === 1)).toMatchObject({
      state: 'decrypt_only',
      dataKeys: 0,
      subjectKeys: 0,
    });
    const [scheduled] = await hierarchy.scheduleDeletion(keyId, { actor: 'test', version: 1 });
    expect(scheduled?.state).toBe('scheduled_for_deletion');
    await expect(hierarchy.destroy({ keyId, version: 1 }, 'test')).rejects.toThrow(/deletion date/);

    now = new Date(now.getTime() + 31 * DAY_MS);
    expect(await hierarchy.destroyDueKeys('test')).toEqual([{ keyId, version: 1 }]);
    const { rows } = await t.owner.query<{ state: string; wrapped: boolean }>(
      `SELECT state, wrapped_key IS NOT NULL AS wrapped FROM encryption_key_versions
        WHERE key_id = $1 ORDER BY version`,
      [keyId],
    );
    expect(rows).toEqual([
      { state: 'destroyed', wrapped: false },
      { state: 'active', wrapped: true },
    ]);

    const after = await decryptEverything();
    expect(after.providerKeys).toEqual([ORG_PROVIDER_KEY]);
    expect(after.emails).toContain(t.boot.adminEmail);
  });

  it('wraps new data keys under version 2', async () => {
    await freshHierarchy().dataKeyId({ kind: 'tenant', tenant: randomBytes(8).toString('hex') }, 'test');
    expect((await dataKeyParentVersions()).every((version) => version === 2)).toBe(true);
  });
});

describe('re-wrapping subject keys under a new compliance key version', () => {
  it('rejects an old version with subject keys', async () => {
    const keyId = await purposeKeyId('compliance');
    expect((await hierarchy.rotate(keyId, 'test')).version).toBe(2);
    const versions = await subjectKeyVersions();
    expect(versions.length).toBeGreaterThan(0);
    expect(versions.every((version) => version === 1)).toBe(true);
    await expect(hierarchy.scheduleDeletion(keyId, { actor: 'test', version: 1 })).rejects.toThrow(
      `${versions.length} keys are still wrapped under it`,
    );
  });

  it('resumes an interrupted subject key run', async () => {
    const before = await openSealedEmails();
    expect(before).toContain(t.boot.adminEmail);
    const total = (await subjectKeyVersions()).length;

    await expect(
      rewrapSubjectKeys(t.owner, freshHierarchy(), {
        actor: 'test',
        onRewrapped: (_subject, progress) => {
          if (progress.rewrapped === 1) throw new InjectedCrash('stopped after one key');
        },
      }),
    ).rejects.toThrow(InjectedCrash);
    expect((await subjectKeyVersions()).filter((version) => version === 2)).toHaveLength(1);
    expect(await openSealedEmails()).toEqual(before);

    const second = await rewrapSubjectKeys(t.owner, freshHierarchy(), { actor: 'test' });
    expect(second.complianceVersion).toBe(2);
    expect(second.rewrapped).toBe(total - 1);
    expect(await subjectKeyVersions()).toEqual(Array.from({ length: total }, () => 2));
    const third = await rewrapSubjectKeys(t.owner, freshHierarchy(), { actor: 'test' });
    expect(third).toEqual({ complianceVersion: 2, examined: 0, rewrapped: 0, skipped: 0 });
    expect(await openSealedEmails()).toEqual(before);
  });

  it('destroys the old version; audit verifies', async () => {
    const keyId = await purposeKeyId('compliance');
    const before = await openSealedEmails();
    await hierarchy.scheduleDeletion(keyId, { actor: 'test', version: 1 });
    now = new Date(now.getTime() + 31 * DAY_MS);
    await hierarchy.destroy({ keyId, version: 1 }, 'test');

    expect(await openSealedEmails()).toEqual(before);
    expect(await auditVerifies()).toBe(true);
    const dependants = await listPurposeKeyDependants(t.owner);
    expect(dependants.find((row) => row.purpose === 'compliance' && row.version === 1)).toMatchObject({
      state: 'destroyed',
      subjectKeys: 0,
    });
  });

  it('rechecks dependants at destruction', async () => {
    const keyId = await purposeKeyId('compliance');
    // A process that read the compliance key before the rotation below and has not read it since.
    const staleHierarchy = freshHierarchy();
    expect(await staleHierarchy.loadPurposeKey('compliance', 'test')).toBe(2);
    expect((await hierarchy.rotate(keyId, 'test')).version).toBe(3);
    const total = (await subjectKeyVersions()).length;
    expect((await rewrapSubjectKeys(t.owner, freshHierarchy(), { actor: 'test' })).rewrapped).toBe(
      total,
    );
    await hierarchy.scheduleDeletion(keyId, { actor: 'test', version: 2 });

    const subject = `user:${randomBytes(8).toString('hex')}`;
    const { version, wrapped } = await complianceKeyWrapping(staleHierarchy).wrap(
      subject,
      randomBytes(32),
      t.owner,
    );
    expect(version).toBe(2);
    await t.owner.query(
      `INSERT INTO personal_data_keys (subject_id, wrapped_key, compliance_key_version)
       VALUES ($1, $2, $3)`,
      [subject, wrapped, version],
    );

    now = new Date(now.getTime() + 31 * DAY_MS);
    await expect(hierarchy.destroy({ keyId, version: 2 }, 'test')).rejects.toThrow(
      '1 keys are still wrapped under it',
    );
    expect(await hierarchy.destroyDueKeys('test')).toEqual([]);
    expect((await rewrapSubjectKeys(t.owner, freshHierarchy(), { actor: 'test' })).rewrapped).toBe(1);
    expect(await hierarchy.destroyDueKeys('test')).toEqual([{ keyId, version: 2 }]);
    expect(await subjectKeyVersions()).toEqual(Array.from({ length: total + 1 }, () => 3));
    expect(await openSealedEmails()).toContain(t.boot.adminEmail);
  });

  it('reads a rotation after the TTL', async () => {
    const keyId = await purposeKeyId('compliance');
    const reader = freshHierarchy();
    expect(await reader.loadPurposeKey('compliance', 'test')).toBe(3);
    await hierarchy.rotate(keyId, 'test');
    const wrapping = complianceKeyWrapping(reader);
    const material = randomBytes(32);
    const subject = `user:${randomBytes(8).toString('hex')}`;
    expect((await wrapping.wrap(subject, material, t.owner)).version).toBe(3);

    now = new Date(now.getTime() + 6 * 60 * 1000);
    // The first wrap after the TTL still uses the remembered version and starts a read.
    expect((await wrapping.wrap(subject, material, t.owner)).version).toBe(3);
    await expect
      .poll(async () => (await wrapping.wrap(subject, material, t.owner)).version)
      .toBe(4);
  });
});
